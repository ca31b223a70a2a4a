#!/bin/sh
# Build and push an image on a dchweb build host of its own, following the
# log as it happens; exit 0 and print the pushed digest when the registry
# serves it, exit 1 with dchweb's reason otherwise.
#
#   DCHWEB_URL=https://dchweb.example.com DCHWEB_TOKEN=... \
#     dchweb-build.sh CONTEXT_DIR TAG ENDPOINT_ID [VOLUME_POLICY]
#
# The host is held by a heartbeat lease (DCHWEB_LEASE_SECONDS, 120 by
# default): a heartbeat every DCHWEB_HEARTBEAT_SECONDS (a quarter of the
# lease) keeps it while this script lives. The script removes the host when
# it ends; a job killed outright (kill -9, a lost agent) stops heartbeating,
# and dchweb removes the host within the lease plus one reconciler pass.
#
# Needs sh, tar, curl and python3 (for JSON).
set -eu

context_dir=$1 tag=$2 endpoint_id=$3 policy=${4:-delete}
: "${DCHWEB_URL:?set DCHWEB_URL}" "${DCHWEB_TOKEN:?set DCHWEB_TOKEN}"
lease=${DCHWEB_LEASE_SECONDS:-120}
beat=${DCHWEB_HEARTBEAT_SECONDS:-$((lease / 4))}
api="$DCHWEB_URL/api/v1"
auth="Authorization: Bearer $DCHWEB_TOKEN"
work=$(mktemp -d)
host="" heartbeat=""

finish() {
  status=$?
  if [ -n "$heartbeat" ]; then kill "$heartbeat" 2>/dev/null || true; fi
  if [ -n "$host" ]; then
    # The host's volume policy says what becomes of its volumes.
    curl -sS -o /dev/null -X DELETE -H "$auth" "$api/build-hosts/$host" || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

wanted=$(printf '{"endpoint_id": %s, "volume_policy": "%s", "lease_seconds": %s}' \
  "$endpoint_id" "$policy" "$lease")
curl -sS --fail-with-body -H "$auth" -H 'Content-Type: application/json' \
  -d "$wanted" -o "$work/host.json" "$api/build-hosts"
host=$(json '["id"]' <"$work/host.json")

# The heartbeat, in the background for as long as this script's process
# lives (kill -0): killed, the script takes its heartbeat with it. Its output
# goes nowhere, so a caller reading ours is not held open by a `sleep`.
script=$$
(
  while kill -0 "$script" 2>/dev/null; do
    curl -sS -o /dev/null -X POST -H "$auth" "$api/build-hosts/$host/heartbeat" || true
    sleep "$beat"
  done
) >/dev/null 2>&1 &
heartbeat=$!
echo "dchweb build host $host (lease $lease s)" >&2

while :; do
  curl -sS --fail-with-body -H "$auth" -o "$work/host.json" "$api/build-hosts/$host"
  state=$(json '["state"]' <"$work/host.json")
  case "$state" in
    ready) break ;;
    failed | removing | removed)
      echo "build host $host $state: $(json '["error"]' <"$work/host.json")" >&2
      exit 1
      ;;
  esac
  sleep 1
done

tar -C "$context_dir" -czf "$work/context.tar.gz" .
curl -sS --fail-with-body -H "$auth" -o "$work/created.json" \
  -F "context=@$work/context.tar.gz" -F "tag=$tag" -F "build_host_id=$host" \
  -F "push=true" "$api/builds"
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
