#!/bin/sh
# Build and push an image through an ephemeral dchweb build host, following
# the log as it happens; exit 0 and print the pushed digest when the registry
# serves it, exit 1 with dchweb's reason otherwise.
#
#   DCHWEB_URL=https://dchweb.example.com DCHWEB_TOKEN=... \
#     dchweb-build.sh CONTEXT_DIR TAG ENDPOINT_ID [VOLUME_POLICY]
#
# Needs sh, tar, curl and python3 (for JSON).
set -eu

context_dir=$1 tag=$2 endpoint_id=$3 policy=${4:-delete}
: "${DCHWEB_URL:?set DCHWEB_URL}" "${DCHWEB_TOKEN:?set DCHWEB_TOKEN}"
api="$DCHWEB_URL/api/v1"
auth="Authorization: Bearer $DCHWEB_TOKEN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

tar -C "$context_dir" -czf "$work/context.tar.gz" .
curl -sS --fail-with-body -H "$auth" -o "$work/created.json" \
  -F "context=@$work/context.tar.gz" -F "tag=$tag" -F "endpoint_id=$endpoint_id" \
  -F "volume_policy=$policy" -F "push=true" "$api/builds"
build=$(json '["id"]' <"$work/created.json")
echo "dchweb build $build" >&2

offset=0
while :; do
  curl -sS --fail-with-body -H "$auth" -D "$work/headers" -o "$work/chunk" \
    "$api/builds/$build/log?offset=$offset"
  cat "$work/chunk"
  next=$(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Nn]ext-[Oo]ffset: //p')
  state=$(tr -d '\r' <"$work/headers" | sed -n 's/^[Xx]-[Bb]uild-[Ss]tate: //p')
  if [ "$next" = "$offset" ]; then
    case "$state" in succeeded|failed|cancelled) break ;; esac
    sleep 1
  fi
  offset=$next
done

curl -sS --fail-with-body -H "$auth" -o "$work/build.json" "$api/builds/$build"
if [ "$(json '["state"]' <"$work/build.json")" = succeeded ]; then
  json '["digest"]' <"$work/build.json"
else
  echo "build $build $(json '["state"]' <"$work/build.json"): $(json '["error"]' <"$work/build.json")" >&2
  exit 1
fi
