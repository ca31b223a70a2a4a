# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Common variables and helpers for devstack/up, devstack/down and devstack/exec.
# Sourced, never run. Everything a devstack owns is derived from the absolute
# path of the project root, so two checkouts on one machine (a working tree and
# a fresh clone of it) never share a bridge, subnet, port, socket or certificate.

ROOT="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$ROOT" in
  *[!A-Za-z0-9._/+-]*)
    # The env file is plain KEY=VALUE (sourceable by sh, readable by Python)
    # and the paths end up in `-H unix://...` URLs: keep them unquoted-safe.
    echo "devstack: the project path '$ROOT' must not contain spaces or shell characters" >&2
    exit 1 ;;
esac

STATE="$ROOT/var/devstack"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/dchweb"

# Devstack id: first 6 hex digits of sha256(ROOT). Bytes 0..2 pick the
# registry's loopback address and the engine's address pool.
DSID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-6)"
_ds_byte() { printf '%d' "0x${DSID:$(($1 * 2)):2}"; }
REGISTRY_IP="127.$((16 + $(_ds_byte 0) % 235)).$(_ds_byte 1).1"   # 127.16-250.x.1
POOL_OCTET="$((128 + $(_ds_byte 2) % 123))"                          # 10.128-250/16
ADDRESS_POOL="base=10.$POOL_OCTET.0.0/16,size=24"

# The exec root holds containerd's socket: unix socket paths are limited to
# 108 bytes, so it must be short and cannot live under a deep project path.
EXEC_ROOT="/run/dchweb-$DSID"
DOCKER_SOCK="$STATE/docker.sock"
DOCKERD_PID="$STATE/dockerd.pid"
REDIS_SOCK="$STATE/redis.sock"
REDIS_PID="$STATE/redis.pid"
HOSTS_FILE="$STATE/hosts"
CERTS_D="$STATE/certs.d"

# The sign-in directory: Debian's slapd with a config and database of its own
# under var/devstack/ldap, on a unix socket only (no TCP port to clash over).
# The machine's root user manages it over that socket (SASL EXTERNAL).
LDAP_DIR="$STATE/ldap"
LDAP_CONF="$LDAP_DIR/slapd.d"
LDAP_DATA="$LDAP_DIR/data"
LDAP_PID="$STATE/slapd.pid"
LDAP_SOCK="$STATE/ldapi"
# unix socket paths are limited to 108 bytes (see EXEC_ROOT above).
((${#LDAP_SOCK} < 100)) || LDAP_SOCK="/run/dchweb-ldap-$DSID/ldapi"
LDAP_SOCK_URL="${LDAP_SOCK//\//%2F}"
LDAP_URI="ldapi://${LDAP_SOCK_URL//+/%2B}"
LDAP_SUFFIX="dc=dchweb,dc=test"
LDAP_BIND_DN="cn=dchweb,ou=services,$LDAP_SUFFIX"
LDAP_BIND_PASSWORD_FILE="$LDAP_DIR/bind-password"
# `username password group` a line (group: developers or admins; a user in
# both has two lines). devstack/up makes it with two users when missing.
LDAP_USERS_FILE="$STATE/ldap-users"

REGISTRY_NAME="registry.test"
REGISTRY_PORT=5443
REGISTRY="$REGISTRY_NAME:$REGISTRY_PORT"
REGISTRY_USER="dchweb"
REGISTRY_PASSWORD_FILE="$STATE/registry-password"
REGISTRY_CONTAINER="dchweb-registry"
REGISTRY_VOLUME="dchweb-registry-data"
REGISTRY_IMAGE="dchweb/registry:2.8"
NETWORK="dchweb-devstack"
BRIDGE="dchweb-$DSID"    # the network's Linux bridge: ours by name (<= 15 chars)

BASE_IMAGE="dchweb/bookworm-docker:base"
BUILD_HOST_TAG="20.10"   # the Docker engine version inside (Debian bookworm's docker.io)
BUILD_HOST_LOCAL="dchweb/build-host:$BUILD_HOST_TAG"
BUILD_HOST_IMAGE="$REGISTRY/default-project/dch-photon:$BUILD_HOST_TAG"
RECIPE_LABEL="io.dchweb.recipe"

# The devstack engine only, and a CLI config of our own: ~/.docker and any
# system engine are never touched.
export DOCKER_HOST="unix://$DOCKER_SOCK"
export DOCKER_CONFIG="$STATE/docker-config"

step() { printf 'devstack[%s]: %s\n' "$DSID" "$*"; }
die() { printf 'devstack[%s]: ERROR: %s\n' "$DSID" "$*" >&2; exit 1; }

# pid_alive PIDFILE WORD: true if PIDFILE names a live process whose command
# line contains WORD (guards against a recycled pid after a reboot or crash).
pid_alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# install_packages PKG...: the Debian packages missing among PKG, installed
# (devstack/up's own, and the Makefile's lint tools).
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then step "packages: all present"; return; fi
  step "packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_ping() {
  curl -fsS --max-time 2 --unix-socket "$DOCKER_SOCK" http://engine/_ping >/dev/null 2>&1
}

# Hash of files (content and name), used as an image's recipe label.
recipe_hash() {
  local f
  for f in "$@"; do printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(basename "$f")"; done \
    | sha256sum | cut -c1-64
}

image_label() {  # image_label IMAGE LABEL -> value, empty if no image/label
  docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}
