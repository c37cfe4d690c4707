#!/usr/bin/env bash
# Append throughput benchmark (not a timed test): W concurrent writers of
# 64-byte appends, each to its own stream, for S seconds, against
#   1. ds-server --data-dir (durable: every ack after fdatasync, group commit)
#   2. ds-server in memory (the baseline of the same build)
#   3. the published Node server @durable-streams/server with a dataDir
# all run here on 127.0.0.1, one after the other, in one session so the
# ratios compare like with like. Prints appends/s for each and the ratios
# durable/memory (target >= 0.5) and durable/node-file (target >= 100).
#
# Usage: scripts/bench-durable.sh [SECONDS] [WRITERS] [NODE_VERSION]
#        (defaults: 5 s, 32 writers, 0.3.7)
set -euo pipefail

DS_SCRIPT_NAME=bench-durable
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

case "${1:-}" in
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
esac
secs="${1:-5}"
writers="${2:-32}"
node_version="${3:-0.3.7}"

work="$(mktemp -d "${TMPDIR:-/tmp}/ds-bench.XXXXXX")"
# Server pids go to a file: start_ds runs in a command substitution (a
# subshell), where appending to an array would be lost.
pidfile="$work/pids"
: >"$pidfile"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$? p
  while read -r p; do stop_pid "$p" server || true; done <"$pidfile"
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$repo_root"
cargo build --release -q -p ds-reference-server --bin ds-server --example http_append_bench
target_dir="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
server="$target_dir/release/ds-server"
bench="$target_dir/release/examples/http_append_bench"

# start_ds NAME [ARGS...]: start ds-server, print its stream root.
start_ds() {
  local name="$1" log line url
  shift
  log="$work/$name.log"
  "$server" --host 127.0.0.1 --port 0 "$@" </dev/null >"$log" 2>&1 &
  echo $! >>"$pidfile"
  line="$(wait_for_line "$log" 'listening on http://' 60 "$!")" || die "$name did not start"
  url="$(grep -oE 'http://[^[:space:]]+' <<<"$line" | head -n1)"
  printf '%s/v1/stream\n' "$url"
}

# run_bench NAME ROOT: appends/s for one target.
run_bench() {
  local name="$1" root="$2" out
  log "$name: $writers writers x ${secs}s against $root"
  out="$("$bench" "$root" "$writers" "$secs")"
  printf '%s\n' "$out" >&2
  grep -oE '[0-9]+(\.[0-9]+)?[[:space:]]*appends/s' <<<"$out" | grep -oE '^[0-9.]+' | head -n1
}

mem_root="$(start_ds memory)"
mem="$(run_bench memory "$mem_root")"
mkdir -p "$work/data"
dur_root="$(start_ds durable --data-dir "$work/data")"
dur="$(run_bench durable "$dur_root")"

node="n/a"
mkdir -p "$work/node-data"
LONG_POLL_TIMEOUT_MS=500 "$script_dir/node-server.sh" "$node_version" 0 "$work/node-data" \
  </dev/null >"$work/node.log" 2>&1 &
echo $! >>"$pidfile"
if line="$(wait_for_line "$work/node.log" '^stream root: http://' 120 "$!")"; then
  node="$(run_bench "node-$node_version-file" "${line#stream root: }")"
else
  log "the Node server did not start; see $work/node.log"
fi

ratio() { python3 -c "import sys; a, b = sys.argv[1], sys.argv[2]; print('n/a' if 'n/a' in (a, b) or float(b) == 0 else f'{float(a) / float(b):.2f}')" "$1" "$2"; }
printf '\n%-28s %12s\n' target appends/s
printf '%-28s %12s\n' "ds-server --data-dir" "$dur" "ds-server (memory)" "$mem" "node $node_version (dataDir)" "$node"
printf '\nratio durable / memory:     %s (target >= 0.5)\n' "$(ratio "$dur" "$mem")"
printf 'ratio durable / node file:  %s (target >= 100)\n' "$(ratio "$dur" "$node")"
