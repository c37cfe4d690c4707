#!/usr/bin/env bash
# Instructions per in-memory append, counted by callgrind (issue 18: where a
# target is missed, profile, fix, report before/after). Noise-free where
# throughput on a shared machine is not: the same build gives the same count
# within a few tens of instructions.
#
# ds-server (memory store, 127.0.0.1, free port) runs under valgrind
# --tool=callgrind; ds-bench sends 64-byte appends to one stream over 32
# connections at a fixed rate: a 2 s warm-up, then a short and a long run,
# with callgrind's counters zeroed before and dumped after each. Per append =
# (long - short) / (appends in long - appends in short), which cancels the
# fixed costs (timers, start-up). Printed: the whole process, axum's
# connection task (inclusive), ds-server's operation (after routing), the store's
# append and memcpy. With --baseline BIN the same is measured for another
# ds-server binary (an older build) and the ratio new/baseline is printed.
#
# Usage: scripts/profile-append.sh [--baseline BIN] [--rate N] [--out DIR]
#   --rate N    appends per second under callgrind (default 300)
#   --out DIR   keep callgrind's dumps there (default: a temporary directory,
#               removed at the end); read them with callgrind_annotate
# Needs cargo, python3 and valgrind (Debian: apt-get install valgrind).
# Setup problems exit 2 with one line.
set -euo pipefail

DS_SCRIPT_NAME=profile-append
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

baseline="" rate=300 out=""
while (($#)); do
  case "$1" in
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    --baseline) [[ $# -ge 2 ]] || die "--baseline needs a ds-server binary"; baseline="$2"; shift 2 ;;
    --rate) [[ $# -ge 2 ]] || die "--rate needs a number"; rate="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a directory"; out="$2"; shift 2 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$rate" =~ ^[1-9][0-9]*$ ]] || die "--rate must be a positive number, got '$rate'"
[[ -z "$baseline" || -x "$baseline" ]] || die "--baseline '$baseline' is not an executable file"
need cargo python3 valgrind callgrind_control callgrind_annotate

if [[ -n "$out" ]]; then
  mkdir -p "$out" || die "cannot create --out directory '$out'"
  work="$(cd "$out" && pwd)"
else
  work="$(mktemp -d "${TMPDIR:-/tmp}/ds-profile.XXXXXX")"
fi
server_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  stop_pid "$server_pid" "callgrind ds-server"
  [[ -n "$out" ]] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$repo_root"
log "building ds-server and ds-bench (release)"
cargo build --release -q -p ds-reference-server --bin ds-server
cargo build --release -q -p ds-bench --bin ds-bench
target_dir="$(cargo_target_dir)"
bench="$target_dir/release/ds-bench"

# profile NAME BIN: writes "NAME appends total connection operation store
# memcpy" (per append) to WORK/NAME.row. Runs in this shell (not in $(...)),
# so the EXIT trap can stop the server it started.
profile() {
  local name="$1" bin="$2" dir="$work/$1" line url secs
  rm -rf "$dir" "$work/$name.row"
  mkdir -p "$dir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
    "$bin" --host 127.0.0.1 --port 0 </dev/null >"$dir/server.log" 2>&1 &
  server_pid=$!
  line="$(wait_for_line "$dir/server.log" 'listening on http://' 300 "$server_pid")" \
    || die "$name: ds-server did not start under valgrind"
  url="$(grep -oE 'http://[^[:space:]]+' <<<"$line" | head -n1)"
  url="${url%/}/v1/stream"
  run() {
    timeout 120 "$bench" --threads 1 --quiet --target "$url" --json "$dir/$1.json" \
      append --connections 32 --streams 1 --size 64 --rate "$rate" --duration "$2" \
      >"$dir/$1.txt" 2>&1 || die "$name: ds-bench failed ($(tail -n1 "$dir/$1.txt"))"
  }
  log "$name: warm-up, then 3 s and 9 s at $rate appends/s under callgrind"
  run warm 2
  for secs in 3 9; do
    callgrind_control -z "$server_pid" >/dev/null 2>&1
    run "r$secs" "$secs"
    callgrind_control -d "r$secs" "$server_pid" >/dev/null 2>&1
  done
  stop_pid "$server_pid" "callgrind ds-server"
  server_pid=""
  # Callgrind numbers its dumps: .1 is the 3 s run's, .2 the 9 s run's.
  callgrind_annotate --inclusive=yes --threshold=100 "$dir/callgrind.out.1" >"$dir/r3.inclusive"
  callgrind_annotate --inclusive=yes --threshold=100 "$dir/callgrind.out.2" >"$dir/r9.inclusive"
  (python3 - "$dir" "$name" <<'PY'
import json, re, sys
d, name = sys.argv[1], sys.argv[2]
def count(tag):
    return json.load(open(f"{d}/{tag}.json"))["figures"]["latency"]["count"]
def inclusive(tag, needle):
    for line in open(f"{d}/{tag}.inclusive"):
        if needle in line:
            m = re.match(r"\s*([\d,]+)", line)
            if m:
                return int(m.group(1).replace(",", ""))
    return 0
n = count("r9") - count("r3")
if n <= 0:
    print(f"[profile-append] error: {name}: the long run acknowledged no more appends"
          " than the short one", file=sys.stderr)
    sys.exit(2)
rows = [("total", "PROGRAM TOTALS"),
        ("connection", "axum::serve::handle_connection::{{closure}}::{{closure}} "),
        ("operation", "ds_reference_server::http::operation::{{closure}} "),
        ("store", "ds_reference_server::store::ops::append::"),
        ("memcpy", "__memcpy")]
print(name, n, " ".join(str((inclusive("r9", k) - inclusive("r3", k)) // n) for _, k in rows))
PY
  ) >"$work/$name.row"
}

profile new "$target_dir/release/ds-server"
[[ -z "$baseline" ]] || profile baseline "$baseline"

python3 - "$work"/*.row <<'PY'
import sys
cols = ["total", "connection", "operation", "store", "memcpy"]
rows = sorted((open(f).read().split() for f in sys.argv[1:]), key=lambda r: r[0] != "new")
print("instructions per append (callgrind, difference of a 9 s and a 3 s run)")
print(f"{'build':<10} {'appends':>8} " + " ".join(f"{c:>11}" for c in cols))
for r in rows:
    print(f"{r[0]:<10} {r[1]:>8} " + " ".join(f"{int(v):>11,}" for v in r[2:]))
if len(rows) == 2:
    new, base = rows
    print(f"{'new/base':<10} {'':>8} " + " ".join(
        f"{int(a) / int(b):>10.3f}x" if int(b) else f"{'-':>11}" for a, b in zip(new[2:], base[2:])))
print("(connection = axum's connection task, inclusive: the figure to compare;"
      " the whole process also counts scheduler idle work)")
PY
