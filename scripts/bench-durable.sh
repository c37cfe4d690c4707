#!/usr/bin/env bash
# Append throughput benchmark (not a timed test): W concurrent closed-loop
# writers (one connection each, one append in flight at a time) of 64-byte
# appends, for S seconds, against
#   1. ds-server --data-dir (durable: every ack after fdatasync, group commit)
#   2. ds-server in memory (the baseline of the same build)
#   3. the published Node server @durable-streams/server with a dataDir
# all run here on 127.0.0.1, one after the other, in one session so the
# ratios compare like with like. Prints appends/s for each, the ratios
# durable/memory (target >= 0.5) and durable/node-file (target >= 100), and
# two reference figures of this machine: the HTTP ceiling (the same load
# generator asking ds-server for a missing stream, a request that does no
# store work) and the memory store's peak resident memory.
#
# Every run is checked: no non-2xx answer, and the bytes read back from the
# streams afterwards account for every acknowledged append (in-flight appends
# at the deadline may add at most one per writer).
#
# Load generator: wrk (Debian package `wrk`; installed with apt-get when
# missing and possible), one thread (on this 2-core machine one wrk thread
# leaves the server the most CPU: 141k vs 117-122k requests/s for the
# ceiling with two). DS_BENCH_CLIENT=reqwest uses the
# workspace's own Rust client instead (examples/http_append_bench; it costs
# the server more of the shared CPU, so its figures are lower).
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
  -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
esac
secs="${1:-5}"
writers="${2:-32}"
node_version="${3:-0.3.7}"
[[ "$secs" =~ ^[0-9]+$ && "$secs" -ge 1 ]] || die "SECONDS must be a whole number >= 1, got '$secs'"
[[ "$writers" =~ ^[0-9]+$ && "$writers" -ge 1 ]] || die "WRITERS must be a number >= 1, got '$writers'"

client="${DS_BENCH_CLIENT:-wrk}"
if [[ "$client" == wrk ]] && ! command -v wrk >/dev/null; then
  if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    log "installing wrk (Debian package)"
    apt-get install -y -qq wrk >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1; } \
      || true
  fi
  command -v wrk >/dev/null || { log "wrk is not available; using the Rust client"; client=reqwest; }
fi
[[ "$client" == wrk || "$client" == reqwest ]] || die "DS_BENCH_CLIENT must be wrk or reqwest"
# wrk threads (DS_BENCH_WRK_THREADS, default 1), each driving writers/threads
# streams over as many connections.
threads="${DS_BENCH_WRK_THREADS:-1}"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] && ((writers % threads == 0)) \
  || die "DS_BENCH_WRK_THREADS must divide WRITERS ($writers), got '$threads'"
per_thread=$((writers / threads))

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
rust_client="$target_dir/release/examples/http_append_bench"

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

# stream_urls ROOT PREFIX: the URLs of the benchmark's streams.
stream_urls() {
  local t i
  for ((t = 0; t < threads; t++)); do
    for ((i = 0; i < per_thread; i++)); do printf '%s/%s-%d-%d\n' "$1" "$2" "$t" "$i"; done
  done
}

# run_wrk NAME ROOT: appends/s for one target, checked against the stored bytes.
run_wrk() {
  local name="$1" root="$2" prefix="bench-$RANDOM$RANDOM" url out acked non2xx stored
  local -a urls
  mapfile -t urls < <(stream_urls "$root" "$prefix")
  for url in "${urls[@]}"; do
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' "$url" \
      || die "$name: could not create $url"
  done
  log "$name: $writers writers x ${secs}s (wrk, $threads threads) against $root"
  out="$(wrk -t"$threads" -c"$writers" -d"${secs}s" -s "$script_dir/lib/wrk-append.lua" \
    "${root%%/v1/stream*}" -- "/${root#http://*/}/$prefix" "$per_thread")"
  printf '%s\n' "$out" >&2
  acked="$(grep -oE '^[[:space:]]*[0-9]+ requests in' <<<"$out" | grep -oE '[0-9]+' | head -n1)"
  non2xx="$(grep -oE 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | grep -oE '[0-9]+$' || echo 0)"
  [[ -n "$acked" ]] || die "$name: could not read wrk's request count"
  ((non2xx == 0)) || die "$name: $non2xx appends were answered with an error status"
  stored="$(python3 "$script_dir/lib/stream_bytes.py" "${urls[@]}")"
  ((stored % 64 == 0)) || die "$name: $stored stored bytes is not a whole number of 64-byte appends"
  stored=$((stored / 64))
  ((stored >= acked && stored <= acked + writers)) \
    || die "$name: $acked appends acknowledged but $stored found when reading the streams back"
  log "$name: $acked acknowledged appends, $stored read back"
  grep -oE 'Requests/sec:[[:space:]]*[0-9.]+' <<<"$out" | grep -oE '[0-9.]+$' | cut -d. -f1
}

# run_reqwest NAME ROOT: appends/s with the workspace's Rust client.
run_reqwest() {
  local out
  log "$1: $writers writers x ${secs}s (Rust client) against $2"
  out="$("$rust_client" "$2" "$writers" "$secs")"
  printf '%s\n' "$out" >&2
  grep -oE '[0-9]+(\.[0-9]+)?[[:space:]]*appends/s' <<<"$out" | grep -oE '^[0-9]+' | head -n1
}

run_bench() { "run_$client" "$@"; }

# ceiling ROOT: requests/s for a request that does no store work (a GET of
# a stream that does not exist, answered 404) with the same load generator.
ceiling() {
  local out
  [[ "$client" == wrk ]] || { echo n/a; return; }
  out="$(wrk -t"$threads" -c"$writers" -d"${secs}s" "$1/bench-missing-stream")"
  grep -oE 'Requests/sec:[[:space:]]*[0-9.]+' <<<"$out" | grep -oE '[0-9.]+$' | cut -d. -f1
}

mem_root="$(start_ds memory)"
mem_pid="$(tail -n1 "$pidfile")"
mem="$(run_bench memory "$mem_root")"
mem_rss_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$mem_pid/status" 2>/dev/null || echo 0)"
log "HTTP ceiling: GET of a missing stream, $writers connections x ${secs}s"
ceil="$(ceiling "$mem_root")"

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
printf '\nload generator: %s, %d writers, %d s each\n' "$client" "$writers" "$secs"
printf '%-34s %12s\n' target appends/s
printf '%-34s %12s\n' "ds-server --data-dir" "$dur" "ds-server (memory)" "$mem" "node $node_version (dataDir)" "$node"
printf '%-34s %12s\n' "HTTP ceiling (404, ds-server)" "$ceil"
printf '\nratio durable / memory:     %s (target >= 0.5)\n' "$(ratio "$dur" "$mem")"
printf 'ratio durable / node file:  %s (target >= 100)\n' "$(ratio "$dur" "$node")"
printf 'ratio ceiling / node file:  %s (the most any server could show here)\n' "$(ratio "$ceil" "$node")"
printf 'memory store peak RSS:      %s MiB after about %s MiB of appends\n' \
  "$((mem_rss_kib / 1024))" "$((mem * secs * 64 / 1048576))"
