#!/usr/bin/env bash
# OpenStack Swift with its S3 layer (s3api + tempauth) on loopback, for the services tier.
#
#   test/services/swift.sh [start] [DIR]  install Swift if missing, configure it in DIR (default: a
#                                         new temp dir), start it, print one line of JSON on stdout:
#     {"endpoint":"http://127.0.0.1:PORT","accessKeyId":"test:tester","secretAccessKey":"testing",
#      "dir":"DIR","pids":[...]}
#   test/services/swift.sh stop DIR       stop the servers started in DIR and remove DIR
#   test/services/swift.sh install        only install (no-op when installed)
#
# Everything (swift.conf, rings, configs, data, logs, PIDs) lives in DIR; /etc/swift is neither
# read nor written (Swift hard-codes /etc/swift/swift.conf, so DIR/launch.py points it at DIR's
# copy before loading a server). Ports are free ones picked at start. Diagnostics go to stderr,
# server logs to DIR/log/. With SWIFT_WATCH_PID=PID, a watcher stops the servers and removes DIR
# once that process is gone (a safety net for a test runner that is killed).
#
# Installing needs root (or passwordless sudo) and the Debian archive: `apt-get install` of
# swift-proxy swift-object swift-container swift-account, with `apt-get update` only when the
# package lists are missing or stale.
set -euo pipefail

readonly packages=(swift-proxy swift-object swift-container swift-account)
readonly commands=(swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder)
readonly marker=".effect-aws-credentials-swift"
readonly ready_timeout="${SWIFT_READY_TIMEOUT:-30}"
readonly kinds=(object container account proxy)
# Swift's interpreter (its scripts' #! line), set by find_python; not whatever python3 is on PATH.
py=/usr/bin/python3
failure=""
# The directory being started: cleaned up if the script ends (error, signal) before it is ready.
starting=""

cleanup_unready() {
  [ -n "$starting" ] || return 0
  stop_servers "$starting"
  rm -rf "$starting"
}
trap cleanup_unready EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf 'swift.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

missing_commands() {
  local c
  for c in "${commands[@]}"; do command -v "$c" >/dev/null 2>&1 || return 0; done
  return 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "Swift is not installed and installing it needs root: run as root, or install ${packages[*]} first"
  fi
}

apt() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@"
}

install_swift() {
  missing_commands || return 0
  command -v apt-get >/dev/null 2>&1 || die "Swift is not installed and this is not a Debian system (no apt-get)"
  log "installing ${packages[*]}"
  local started out
  started=$(date +%s.%N)
  if ! out=$(apt install -y --no-install-recommends "${packages[@]}" 2>&1); then
    # `apt-get update` only when the failure is missing or stale package lists.
    if grep -qE "Unable to locate package|has no installation candidate|Failed to fetch|Some index files failed" <<<"$out"; then
      log "package lists missing or stale: apt-get update"
      apt update >&2 || die "apt-get update failed"
      apt install -y --no-install-recommends "${packages[@]}" >&2 ||
        die "apt-get install ${packages[*]} failed after apt-get update"
    else
      printf '%s\n' "$out" >&2
      die "apt-get install ${packages[*]} failed"
    fi
  fi
  ! missing_commands || die "installed ${packages[*]} but some of ${commands[*]} are still missing"
  log "installed in $(elapsed "$started") s"
}

find_python() {
  py=$(sed -n '1s/^#! *//p' "$(command -v swift-proxy-server)")
  [ -x "$py" ] && "$py" -c "import swift.common.utils" 2>/dev/null ||
    die "$py (from swift-proxy-server's #! line) cannot import swift: is python3-swift broken?"
}

# N distinct free loopback ports (held together while picking, so they differ).
free_ports() {
  "$py" - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

write_configs() {
  local dir=$1 obj=$2 cont=$3 acct=$4 proxy=$5 user kind port
  user=$(id -un)
  mkdir -p "$dir/srv/d1" "$dir/log" "$dir/run"

  # Our own swift.conf (a random hash path salt, one replicated policy).
  printf '[swift-hash]\nswift_hash_path_suffix = %s\nswift_hash_path_prefix = %s\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
    "$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" "$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" >"$dir/swift.conf"
  cat >"$dir/launch.py" <<'PY'
# launch.py SERVER_SCRIPT CONF [options]: runs a Swift server with this directory's swift.conf.
# Swift reads /etc/swift/swift.conf through a module constant (no option or variable), when
# swift.common.storage_policy is imported: set the constant before anything imports that.
import os, runpy, sys
import swift.common.utils as utils
utils.SWIFT_CONF_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "swift.conf")
script = sys.argv.pop(1)
sys.argv[0] = script
runpy.run_path(script, run_name="__main__")
PY

  # The three rings (2^8 partitions, 1 replica, one device each), built in one Python process:
  # like `swift-ring-builder X.builder create 8 1 1; add r1z1-127.0.0.1:PORT/d1 1; rebalance`,
  # without paying Swift's import time nine times.
  (cd "$dir" && "$py" - object "$obj" container "$cont" account "$acct") \
    >"$dir/log/rings.log" 2>&1 <<'PY' || { cat "$dir/log/rings.log" >&2; die "building the rings failed"; }
import sys
from swift.common.ring import RingBuilder
args = sys.argv[1:]
for kind, port in zip(args[::2], args[1::2]):
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "replication_ip": "127.0.0.1", "replication_port": int(port),
                     "device": "d1", "weight": 1, "meta": ""})
    builder.rebalance()
    builder.save(f"{kind}.builder")
    builder.get_ring().save(f"{kind}.ring.gz")
PY

  for kind in object container account; do
    case $kind in object) port=$obj ;; container) port=$cont ;; *) port=$acct ;; esac
    cat >"$dir/$kind-server.conf" <<EOF
[DEFAULT]
swift_dir = $dir
devices = $dir/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
log_name = $kind-server
log_level = WARNING

[pipeline:main]
pipeline = healthcheck $kind-server

[filter:healthcheck]
use = egg:swift#healthcheck

[app:$kind-server]
use = egg:swift#$kind
EOF
  done

  cat >"$dir/proxy-server.conf" <<EOF
[DEFAULT]
swift_dir = $dir
bind_ip = 127.0.0.1
bind_port = $proxy
workers = 0
user = $user
log_name = proxy-server
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
}

# Whether GET /healthcheck on 127.0.0.1:PORT answers 200 (bash's /dev/tcp: no process per poll).
answers() {
  local status=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf 'GET /healthcheck HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
      IFS= read -r -t 2 status <&3
  } 2>/dev/null || true
  { exec 3>&-; } 2>/dev/null || true
  [[ $status == "HTTP/1."[01]" 200"* ]]
}

# Whether PID is a process of ours: its command line names DIR (a recycled PID is left alone).
ours() {
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -e "$2/" -e "$2 "
}

stop_servers() {
  local dir=$1 pid f deadline pids=()
  if [ -f "$dir/run/watcher.pid" ]; then
    pid=$(cat "$dir/run/watcher.pid")
    # The watcher itself may be the one stopping: it must not kill itself midway.
    if [ "$pid" != "$$" ] && ours "$pid" "$dir"; then kill "$pid" 2>/dev/null || true; fi
  fi
  for f in "$dir"/run/*-server.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if ours "$pid" "$dir"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  deadline=$((SECONDS + 5))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null && ours "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

start_once() {
  local dir=$1 obj cont acct proxy kind pid port deadline
  read -r obj cont acct proxy <<<"$(free_ports 4)"
  write_configs "$dir" "$obj" "$cont" "$acct" "$proxy"
  for kind in "${kinds[@]}"; do
    # Own session (setsid): the caller's terminal signals do not reach the servers, and their
    # stdio never holds the caller's pipes open.
    setsid "$py" "$dir/launch.py" "$(command -v "swift-$kind-server")" "$dir/$kind-server.conf" --verbose \
      </dev/null >"$dir/log/$kind.log" 2>&1 &
    echo $! >"$dir/run/$kind-server.pid"
  done
  deadline=$((SECONDS + ready_timeout))
  for port in "$obj" "$cont" "$acct" "$proxy"; do
    until answers "$port"; do [ -n "${SWIFT_DEBUG:-}" ] && log "$(date +%T.%N) waiting $port";
      for kind in "${kinds[@]}"; do
        pid=$(cat "$dir/run/$kind-server.pid")
        if ! kill -0 "$pid" 2>/dev/null; then
          failure="swift-$kind-server exited: $(tail -n 1 "$dir/log/$kind.log")"
          log "swift-$kind-server exited:"
          tail -n 20 "$dir/log/$kind.log" >&2
          return 1
        fi
      done
      if [ $SECONDS -ge $deadline ]; then
        failure="no answer from /healthcheck on port $port within ${ready_timeout} s"
        log "$failure"
        return 1
      fi
      sleep 0.1
    done
  done
  echo "$proxy" >"$dir/run/proxy.port"
}

start() {
  local dir=${1:-} attempt started self
  install_swift
  find_python
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/swift.XXXXXX")
  else
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  fi
  : >"$dir/$marker"
  starting=$dir
  started=$(date +%s.%N)
  # A free port can be taken between picking it and the bind: a few fresh tries.
  for attempt in 1 2 3; do
    if start_once "$dir"; then break; fi
    stop_servers "$dir"
    [ $attempt -lt 3 ] || die "Swift did not start (3 attempts; last: $failure)"
    find "$dir" -mindepth 1 -maxdepth 1 ! -name "$marker" -exec rm -rf {} +
    log "retrying with other ports"
  done
  log "ready in $(elapsed "$started") s"
  starting=""
  if [ -n "${SWIFT_WATCH_PID:-}" ]; then
    self="$(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")"
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
      swift-watch "$SWIFT_WATCH_PID" "$self" "$dir" </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/run/watcher.pid"
  fi
  "$py" - "$dir" "$(cat "$dir/run/proxy.port")" \
    "$(cat "$dir/run/object-server.pid")" "$(cat "$dir/run/container-server.pid")" \
    "$(cat "$dir/run/account-server.pid")" "$(cat "$dir/run/proxy-server.pid")" <<'PY'
import json, sys
d, port, *pids = sys.argv[1:]
print(json.dumps({"endpoint": f"http://127.0.0.1:{port}", "accessKeyId": "test:tester",
                  "secretAccessKey": "testing", "dir": d, "pids": [int(p) for p in pids]},
                 separators=(",", ":")))
PY
}

stop() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 stop DIR"
  if [ ! -d "$dir" ]; then
    log "$dir does not exist (already stopped)"
    return 0
  fi
  dir=$(cd "$dir" && pwd -P)
  [ -f "$dir/$marker" ] || die "$dir was not made by $0 (no $marker): not touching it"
  stop_servers "$dir"
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  install) install_swift ;;
  -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
  -*) die "usage: $0 [start] [DIR] | stop DIR | install" ;;
  *) [ $# -eq 1 ] || die "usage: $0 [start] [DIR] | stop DIR | install"; start "$1" ;;
esac
