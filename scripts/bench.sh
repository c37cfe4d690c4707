#!/usr/bin/env bash
# Benchmarks (not timed tests): ds-bench against, in one session on
# 127.0.0.1, one after the other so the ratios compare like with like:
#   ceiling     a no-op server on ds-server's HTTP stack (ds-bench's
#               noop_server example: axum::serve, a plain tower service that
#               reads and discards the body, empty 200): the most any server
#               on this stack could answer here. Measured twice: GETs with no
#               body (label noop), and append-shaped requests (noop-post:
#               POST, 64-byte body, the same Content-Type as append1). The
#               append ratio of issue 18 is taken against the latter; the GET
#               ceiling is printed beside it.
#   floor       the fan-out floor (ds-bench's fanout_floor example, NOT a
#               Durable Streams server): N long-poll + N SSE waiters woken by
#               one append on the same HTTP stack, no store; ds-server's
#               fan-out p99 is shown as a ratio to it
#   ds-mem      ds-server, memory store
#   ds-file     ds-server --data-dir (every ack after fdatasync)
#   node-mem    the published Node server @durable-streams/server (memory)
#   node-file   the same with a dataDir
#   rust-mem    the crates.io server `durable-streams` --durability memory
#   rust-wal    the same with its default WAL durability
# and prints each figure, then the ratios of issue 18 with met / MISSED.
# Every ds-bench run checks its own results (acked appends read back, no
# error status); a run that does not verify is reported as such.
#
# Then (label alt) the ceiling and ds-server's append alternate in short
# rounds (5 x 3 s each; --quick 3 x 2 s): no-op GET, no-op POST, ds-mem
# append1, ds-file append1 (--data-dir in the work directory, removed
# after; the durable/memory ratio per round), and with
# DS_BENCH_BASELINE_SERVER=PATH also that ds-server binary, memory and
# --data-dir (e.g. an older build, for before/after in one session; its
# durable/memory ratio and ds-file/baseline-file per round); the order rotates
# (round r starts at phase r-1, printed per round); each round's
# ratios and their median are printed, in throughput and in the target's CPU
# per request, so load that shifts between phases cancels.
#
# Usage: scripts/bench.sh [--quick] [--only ds|peers] [--steps LIST]
#   --quick   small sizes (about 3 minutes): 2 s runs, tail 1k vs 100k,
#             fan-out 1,000 + 1,000, churn 15 s
#   default   5 s runs, tail 1k vs 1M, fan-out 10,000 long-poll + 10,000
#             SSE, or as many as the open-file limit allows (the soft limit
#             is raised to the hard one; each side needs one file per
#             reader), churn 60 s; about 15-20 minutes on a 2-core machine
#   --steps   only these steps (comma-separated): a label runs on every
#             target that has it, NAME.LABEL on one, NAME all of NAME's.
#             Labels: noop noop-post (ceiling), alt (the alternating
#             rounds), ceiling404 append1 append1c64 append1c128
#             (append1 with 64 / 128 connections) append10k append100k
#             producer json rate catchup tail fork (ds-mem, ds-file;
#             peers: append1 append10k catchup fanout1), rss
#             fanout1 fanout1000 (ds-mem and floor), fanout1-fixed (ds-mem),
#             churn churn-nocompact (ds-file).
#             E.g. --steps tail,fork,floor,ds-mem.fanout1 or --steps churn.
# Fan-out: fanout1 and fanout1000 are paced (ds-bench --pace settle: each
# round once every reader got the previous one): the latency of one
# append's fan-out, the figure issue 18 targets. fanout1-fixed appends on a
# fixed schedule whatever the readers got: a saturation figure. ds-server
# runs with --sse-lifetime-ms longer than any run, so no SSE reconnects
# (§10.2) land inside a fan-out measurement.
# Environment: DS_BENCH_OUT (keep JSON results and logs there; default a
# temporary directory, removed), DS_BENCH_THREADS (load generator threads,
# default 1: on 2 cores that leaves the server the most CPU),
# DS_BENCH_FANOUT_THREADS (default 2: a fan-out's client handles as many
# deliveries as the server sends), NODE_VERSION (0.3.7), RUST_PEER_VERSION
# (0.1.5), DS_BENCH_BASELINE_SERVER (see alt), DS_BENCH_ALT_ROUNDS and
# DS_BENCH_ALT_SECS (rounds and seconds per phase of alt).
set -euo pipefail

DS_SCRIPT_NAME=bench
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

quick=false
only=all
steps=all
while (($#)); do
  case "$1" in
    -h|--help) sed -n '2,65p' "$0"; exit 0 ;;
    --quick) quick=true; shift ;;
    --only) only="${2:-}"; shift 2 || die "--only needs ds or peers" ;;
    --steps) steps="${2:-}"; shift 2 || die "--steps needs a list" ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$only" == all || "$only" == ds || "$only" == peers ]] || die "--only must be ds or peers"
need cargo python3

[[ -n "$steps" ]] || die "--steps needs a list"
# want NAME LABEL: whether --steps selects LABEL on target NAME.
want() {
  [[ "$steps" == all ]] && return 0
  local s
  IFS=, read -ra _steps <<<"$steps"
  for s in "${_steps[@]}"; do
    [[ "$s" == "$2" || "$s" == "$1.$2" || "$s" == "$1" ]] && return 0
  done
  return 1
}
# wants NAME LABEL...: whether any of these steps runs on NAME.
wants() {
  local n="$1" l
  shift
  for l in "$@"; do want "$n" "$l" && return 0; done
  return 1
}

# Both ds-bench and the servers it starts inherit this limit; a fan-out
# needs one open file per reader on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"
[[ "$nofile" == unlimited ]] && nofile=1048576
alt_rounds="${DS_BENCH_ALT_ROUNDS:-5}"
alt_secs="${DS_BENCH_ALT_SECS:-3}"
if $quick; then
  alt_rounds="${DS_BENCH_ALT_ROUNDS:-3}"; alt_secs="${DS_BENCH_ALT_SECS:-2}"
  secs=2; rss_secs=6; tail_long=100000; fan=1000; churn=15; big_streams=10000; cat_bytes=16MiB
else
  secs=5; rss_secs=30; tail_long=1000000; churn=60; big_streams=100000; cat_bytes=64MiB
  # 10,000 of each kind, or what fits under the open-file limit with room
  # for the writers, the listener and the server's own files.
  fan=$(((nofile - 200) / 2))
  ((fan > 10000)) && fan=10000
  fan=$((fan / 100 * 100))
fi
# Paced fan-out: 100 ms after every reader got a round, the next; a round
# that does not reach everyone in 30 s is reported and the run goes on.
fan_settle=(--pace settle --interval-ms 100 --round-timeout-ms 30000 --rounds 10 --grace 60)
# The fixed schedule (saturation figure) leaves about the time a round takes
# at ~50 µs of server CPU per delivery on 2 cores.
fan_interval=$((fan / 5 > 250 ? fan / 5 : 250))
fan_fixed=(--pace fixed --interval-ms "$fan_interval" --rounds 10 --grace 60)
# Longer than any run: no SSE response ends inside a measurement.
sse_lifetime_ms=3600000
threads="${DS_BENCH_THREADS:-1}"
fan_threads="${DS_BENCH_FANOUT_THREADS:-2}"
node_version="${NODE_VERSION:-0.3.7}"
rust_version="${RUST_PEER_VERSION:-0.1.5}"

if [[ -n "${DS_BENCH_OUT:-}" ]]; then
  work="$DS_BENCH_OUT"; mkdir -p "$work"; keep=true
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/ds-bench.XXXXXX")"; keep=false
fi
work="$(cd "$work" && pwd)"
pidfile="$work/pids"
: >"$pidfile"
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$? p
  while read -r p; do stop_pid "$p" server || true; done <"$pidfile"
  $keep || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$repo_root"
log "building ds-server, ds-bench, the no-op server and the fan-out floor (release)"
cargo build --release -q -p ds-reference-server --bin ds-server
cargo build --release -q -p ds-bench --bin ds-bench --example noop_server --example fanout_floor
target_dir="$(cargo_target_dir)"
server="$target_dir/release/ds-server"
bench="$target_dir/release/ds-bench"
noop="$target_dir/release/examples/noop_server"
floor="$target_dir/release/examples/fanout_floor"

# start NAME REGEX CMD...: starts a server (output in NAME.log), waits for
# its "listening on http://..." line; sets url (its origin) and pid.
start() {
  local name="$1" regex="$2" line
  shift 2
  "$@" </dev/null >"$work/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >>"$pidfile"
  line="$(wait_for_line "$work/$name.log" "$regex" 120 "$pid")" || return 1
  url="$(grep -oE 'http://[^[:space:]]+' <<<"$line" | head -n1)"
  url="${url%/}"
}

stop() { stop_pid "$1" "$2"; }

# b NAME LABEL SECONDS_LIMIT MODE ARGS...: one ds-bench run against the
# current url/pid; its JSON lands in NAME.LABEL.json, its table on stderr.
b() {
  local name="$1" label="$2" limit="$3"
  shift 3
  want "$name" "$label" || return 0
  log "$name: $label"
  local rc=0
  timeout "$limit" "$bench" --threads "${run_threads:-$threads}" --quiet --target "$url/v1/stream" --pid "$pid" \
    --json "$work/$name.$label.json" "$@" >"$work/$name.$label.txt" 2>&1 || rc=$?
  ((rc == 0)) || log "$name: $label did not finish cleanly (exit $rc; 1 = its checks failed)"
  sed 's/^/    /' "$work/$name.$label.txt" >&2
}

uptime_line() { printf '%s, %s cores\n' "$(uptime | sed 's/.*load average/load average/')" "$(nproc)"; }
uptime_line >"$work/load.start"

# ---- the ceiling -------------------------------------------------------------
# The no-op answers 200 to anything, after reading the body. noop: GETs
# with no body; noop-post: the request append1 sends (POST, 64 bytes,
# application/octet-stream) with no store behind it.
post_shape=(--method POST --size 64 --content-type application/octet-stream)
if [[ "$only" != peers ]] && wants ceiling noop noop-post; then
  start ceiling 'listening on http://' "$noop"
  log "ceiling: no-op server at $url"
  b ceiling noop 60 ceiling --connections 32 --duration "$secs" --status 200
  b ceiling noop-post 60 ceiling --connections 32 --duration "$secs" --status 200 "${post_shape[@]}"
  stop "$pid" ceiling
fi

# ---- alternating rounds: ceiling and append, phase after phase ----------------
if [[ "$only" != peers ]] && want alt alt; then
  baseline="${DS_BENCH_BASELINE_SERVER:-}"
  [[ -z "$baseline" || -x "$baseline" ]] || die "DS_BENCH_BASELINE_SERVER=$baseline is not an executable"
  start alt-noop 'listening on http://' "$noop"; noop_url="$url"; noop_pid="$pid"
  start alt-ds 'listening on http://' "$server" --host 127.0.0.1 --port 0; ds_url="$url"; ds_pid="$pid"
  rm -rf "$work/alt-data"; mkdir -p "$work/alt-data"
  start alt-file 'listening on http://' "$server" --host 127.0.0.1 --port 0 --data-dir "$work/alt-data"
  file_url="$url"; file_pid="$pid"
  if [[ -n "$baseline" ]]; then
    start alt-base 'listening on http://' "$baseline" --host 127.0.0.1 --port 0; base_url="$url"; base_pid="$pid"
    rm -rf "$work/alt-base-data"; mkdir -p "$work/alt-base-data"
    start alt-base-file 'listening on http://' "$baseline" --host 127.0.0.1 --port 0 --data-dir "$work/alt-base-data"
    base_file_url="$url"; base_file_pid="$pid"
    log "alt: baseline ds-server $baseline (memory and --data-dir)"
  fi
  # One phase of a round; the phases rotate (round r starts at phase
  # (r-1) mod n), so no phase always runs right after the same other one.
  alt_phase() { # PHASE ROUND
    case "$1" in
      ceiling-get) url="$noop_url"; pid="$noop_pid"
        b alt "ceiling-get-$2" 60 ceiling --connections 32 --duration "$alt_secs" --status 200 ;;
      ceiling-post) url="$noop_url"; pid="$noop_pid"
        b alt "ceiling-post-$2" 60 ceiling --connections 32 --duration "$alt_secs" --status 200 "${post_shape[@]}" ;;
      ds-mem) url="$ds_url"; pid="$ds_pid"
        b alt "ds-mem-$2" 120 append --connections 32 --streams 1 --size 64 --duration "$alt_secs" ;;
      ds-file) url="$file_url"; pid="$file_pid"
        b alt "ds-file-$2" 120 append --connections 32 --streams 1 --size 64 --duration "$alt_secs" ;;
      ds-base) url="$base_url"; pid="$base_pid"
        b alt "ds-base-$2" 120 append --connections 32 --streams 1 --size 64 --duration "$alt_secs" ;;
      ds-base-file) url="$base_file_url"; pid="$base_file_pid"
        b alt "ds-base-file-$2" 120 append --connections 32 --streams 1 --size 64 --duration "$alt_secs" ;;
    esac
  }
  alt_phases=(ceiling-get ceiling-post ds-mem ds-file)
  [[ -n "$baseline" ]] && alt_phases+=(ds-base ds-base-file)
  for ((r = 1; r <= alt_rounds; r++)); do
    order=()
    for ((i = 0; i < ${#alt_phases[@]}; i++)); do
      order+=("${alt_phases[$(((r - 1 + i) % ${#alt_phases[@]}))]}")
    done
    log "alt: round $r order: ${order[*]}"
    printf '%s %s\n' "$r" "${order[*]}" >>"$work/alt.order"
    for phase in "${order[@]}"; do alt_phase "$phase" "$r"; done
  done
  if [[ -n "$baseline" ]]; then
    stop "$base_pid" alt-base
    stop "$base_file_pid" alt-base-file
    rm -rf "$work/alt-base-data"
    printf '%s\n' "$baseline" >"$work/alt.baseline"
  fi
  stop "$ds_pid" alt-ds
  stop "$file_pid" alt-file
  grep -h 'record log' "$work/alt-file.log" | sed 's/^.*record log/  alt-file: record log/' >&2 || true
  rm -rf "$work/alt-data"
  stop "$noop_pid" alt-noop
fi

# ---- the fan-out floor ---------------------------------------------------------
if [[ "$only" != peers ]] && wants floor fanout1 fanout1000; then
  start floor 'listening on http://' "$floor"
  log "floor: fan-out floor (no store, not a Durable Streams server) at $url"
  run_threads=$fan_threads b floor fanout1 600 fanout --long-poll "$fan" --sse "$fan" --streams 1 "${fan_settle[@]}"
  run_threads=$fan_threads b floor fanout1000 600 fanout --long-poll "$fan" --sse "$fan" --streams 1000 "${fan_settle[@]}"
  stop "$pid" floor
fi

# ---- ds-server: memory and file ----------------------------------------------
ds_suite() { # NAME (url/pid set)
  local n="$1"
  b "$n" ceiling404 60 ceiling --connections 32 --duration "$secs"
  b "$n" append1 120 append --connections 32 --streams 1 --duration "$secs"
  # Group commit with more appends in flight (information beside the
  # 32-connection target: how durable/memory moves with concurrency).
  b "$n" append1c64 120 append --connections 64 --streams 1 --duration "$secs"
  b "$n" append1c128 120 append --connections 128 --streams 1 --duration "$secs"
  b "$n" append10k 300 append --connections 32 --streams 10000 --duration "$secs"
  b "$n" append100k 600 append --connections 32 --streams "$big_streams" --duration "$secs"
  b "$n" producer 120 append --connections 32 --streams 100 --kind producer --duration "$secs"
  b "$n" json 120 append --connections 32 --streams 100 --kind json --duration "$secs"
  b "$n" rate 120 append --connections 32 --streams 100 --rate 5000 --duration "$secs"
  b "$n" catchup 600 catchup --bytes "$cat_bytes" --size 64KiB --passes 3
  b "$n" tail 900 tail --lengths "1000,$tail_long" --samples 2000
  b "$n" fork 300 fork --depths 1,100 --samples 1000 --passes 10
}
suite_labels=(ceiling404 append1 append1c64 append1c128 append10k append100k producer json rate catchup tail fork)
if [[ "$only" != peers ]]; then
  if wants ds-mem "${suite_labels[@]}" rss fanout1 fanout1000 fanout1-fixed; then
    start ds-mem 'listening on http://' "$server" --host 127.0.0.1 --port 0 --sse-lifetime-ms "$sse_lifetime_ms"
    wants ds-mem fanout1 fanout1000 fanout1-fixed \
      && log "ds-mem runs with --sse-lifetime-ms $sse_lifetime_ms: no SSE reconnects inside the fan-out runs"
    ds_suite ds-mem
    # Resident size per payload byte needs volume: one long run of 64-byte appends.
    b ds-mem rss 300 append --connections 32 --streams 1 --duration "$rss_secs"
    run_threads=$fan_threads b ds-mem fanout1 600 fanout --long-poll "$fan" --sse "$fan" --streams 1 "${fan_settle[@]}"
    run_threads=$fan_threads b ds-mem fanout1000 600 fanout --long-poll "$fan" --sse "$fan" --streams 1000 "${fan_settle[@]}"
    run_threads=$fan_threads b ds-mem fanout1-fixed 600 fanout --long-poll "$fan" --sse "$fan" --streams 1 "${fan_fixed[@]}"
    stop "$pid" ds-mem
  fi

  if wants ds-file "${suite_labels[@]}"; then
    rm -rf "$work/ds-data"; mkdir -p "$work/ds-data"
    start ds-file 'listening on http://' "$server" --host 127.0.0.1 --port 0 --data-dir "$work/ds-data"
    ds_suite ds-file
    stop "$pid" ds-file
  fi
  # Churn twice: as users run it (compaction at its defaults), and with
  # compaction held off for the run (the baseline: nothing reclaimed).
  for variant in churn churn-nocompact; do
    want ds-file "$variant" || continue
    extra=()
    [[ "$variant" == churn-nocompact ]] && extra=(--compact-min-mib 1048576)
    rm -rf "$work/ds-data"; mkdir -p "$work/ds-data"
    start ds-churn 'listening on http://' "$server" --host 127.0.0.1 --port 0 \
      --data-dir "$work/ds-data" "${extra[@]}"
    b ds-file "$variant" $((churn + 120)) churn --duration "$churn" --data-dir "$work/ds-data"
    stop "$pid" ds-churn
  done
fi

# ---- peers ---------------------------------------------------------------------
peer_suite() { # NAME
  b "$1" append1 120 append --connections 32 --streams 1 --duration "$secs"
  b "$1" append10k 300 append --connections 32 --streams 10000 --duration "$secs"
  b "$1" catchup 600 catchup --bytes "$cat_bytes" --size 64KiB --passes 3
  run_threads=$fan_threads b "$1" fanout1 300 fanout --long-poll 1000 --sse 1000 --streams 1 --rounds 10
}
peer_labels=(append1 append10k catchup fanout1)
if [[ "$only" != ds ]]; then
  if ! wants node-mem "${peer_labels[@]}" && ! wants node-file "${peer_labels[@]}"; then
    :
  elif "$script_dir/node-server.sh" --install-only "$node_version" >"$work/node-install.log" 2>&1; then
    for store in mem file; do
      wants "node-$store" "${peer_labels[@]}" || continue
      args=("$node_version" 0)
      if [[ "$store" == file ]]; then mkdir -p "$work/node-data"; args+=("$work/node-data"); fi
      export LONG_POLL_TIMEOUT_MS=30000
      if start "node-$store" '^listening on http://' "$script_dir/node-server.sh" "${args[@]}"; then
        peer_suite "node-$store"
        stop "$pid" "node-$store"
      else
        log "node-$store did not start"
      fi
    done
  else
    log "the Node server could not be installed; see $work/node-install.log"
  fi

  if ! wants rust-mem "${peer_labels[@]}" && ! wants rust-wal "${peer_labels[@]}"; then
    :
  elif "$script_dir/peer-rust.sh" --install-only durable-streams "$rust_version" >"$work/rust-install.log" 2>&1; then
    rbin="$DS_CACHE_DIR/rust-durable-streams-$rust_version/bin/durable-streams-server"
    for store in memory wal; do
      wants "rust-${store/memory/mem}" "${peer_labels[@]}" || continue
      rm -rf "$work/rust-data"; mkdir -p "$work/rust-data"
      port="$(free_port)"
      if start "rust-$store" 'listening on http://' "$rbin" --host 127.0.0.1 --port "$port" \
          --data-dir "$work/rust-data" --durability "$store" --long-poll-timeout-ms 30000; then
        [[ "$url" == http://* ]] || url="http://127.0.0.1:$port"
        peer_suite "rust-${store/memory/mem}"
        stop "$pid" "rust-$store"
      else
        log "rust-$store did not start"
      fi
    done
  else
    log "durable-streams $rust_version could not be built; see $work/rust-install.log"
  fi
fi

uptime_line >"$work/load.end"
python3 "$script_dir/lib/bench_report.py" "$work"
$keep && log "results kept in $work"
