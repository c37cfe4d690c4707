#!/usr/bin/env bash
# Harness cost against the official suite's (issue 18: the harness's full
# default suite takes at most 0.5x the official TypeScript suite's wall time
# and at most 1x its CPU). One release ds-server on 127.0.0.1 (free port,
# 500 ms long-poll, webhooks with local URLs); against it, N rounds (default
# 3), the two alternating which goes first:
#   official   scripts/official-suite.sh URL --subscriptions (vitest)
#   harness    ds-conformance --target URL/v1/stream (full default suite)
# each under /usr/bin/time: wall seconds and CPU seconds (user + sys of the
# runner and every child process it waited for; the server's CPU is printed
# beside it, from /proc). Prints each round, the medians and the ratios
# harness/official with met / missed. A run that fails its own verdict is
# still timed; its exit status is shown.
#
# Usage: scripts/harness-vs-official.sh [N]
# Needs cargo, python3, node + npm (the official suite is installed into
# DS_CACHE_DIR on first use, before any timing) and /usr/bin/time (GNU time).
# Setup problems exit 2 with one line. Environment: DS_HVO_OUT (keep logs and
# reports there; default a temporary directory, removed at the end).
set -euo pipefail

DS_SCRIPT_NAME=harness-vs-official
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
esac
n="${1:-3}"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/harness-vs-official.sh [N] (N rounds, a positive number)"
(($# <= 1)) || die "usage: scripts/harness-vs-official.sh [N] (one argument at most)"
need cargo python3 node npm
[[ -x /usr/bin/time ]] && /usr/bin/time -f '%e' true 2>/dev/null \
  || die "GNU time is required at /usr/bin/time (e.g. apt-get install time)"
long_poll=500

cd "$repo_root"
cargo build --release -q -p ds-reference-server --bin ds-server -p ds-conformance --bin ds-conformance \
  || die "cargo build --release failed"
target_dir="$(cargo_target_dir)"
dsc="$target_dir/release/ds-conformance"
dss="$target_dir/release/ds-server"

keep=false
if [[ -n "${DS_HVO_OUT:-}" ]]; then
  keep=true
  out="$DS_HVO_OUT"
  mkdir -p "$out"
else
  out="$(mktemp -d "${TMPDIR:-/tmp}/harness-vs-official.XXXXXX")"
fi
server_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  stop_pid "$server_pid" ds-server
  if [[ "$keep" == false ]]; then rm -rf "$out"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$dss" --host 127.0.0.1 --port 0 --long-poll-timeout-ms "$long_poll" \
  --webhooks --allow-local-webhooks </dev/null >"$out/ds-server.log" 2>&1 &
server_pid=$!
line="$(wait_for_line "$out/ds-server.log" 'listening on https?://' 60 "$server_pid")" \
  || die "ds-server did not start (log: $out/ds-server.log)"
url="$(grep -oE 'https?://[^[:space:]]+' <<<"$line" | head -n1)"
url="${url%/}"
log "ds-server (pid $server_pid) at $url; $n round(s); logs in $out"

# The official suite's first use installs it from npm: not part of a round.
if [[ ! -f "$DS_CACHE_DIR/official-0.3.6/.ds-installed" ]]; then
  log "installing the official suite (untimed warm-up run)"
  LONG_POLL_TIMEOUT_MS=$long_poll "$script_dir/official-suite.sh" "$url" --out "$out/warm-up" \
    >"$out/warm-up.log" 2>&1 || true
  [[ -f "$DS_CACHE_DIR/official-0.3.6/.ds-installed" ]] \
    || die "could not install the official suite (see $out/warm-up.log)"
fi

# server_cpu: the server's user + sys CPU so far, in clock ticks.
server_cpu() {
  awk '{print $14 + $15}' "/proc/$server_pid/stat"
}

# timed NAME ROUND COMMAND...: runs COMMAND under /usr/bin/time, appends
# "NAME ROUND exit wall user sys server_ticks" to $out/times.
timed() {
  local name="$1" round="$2" before after status=0
  shift 2
  kill -0 "$server_pid" 2>/dev/null || die "ds-server exited (log: $out/ds-server.log)"
  before="$(server_cpu)"
  /usr/bin/time -f '%e %U %S' -o "$out/$name-$round.time" "$@" \
    </dev/null >"$out/$name-$round.log" 2>&1 || status=$?
  after="$(server_cpu)"
  [[ -s "$out/$name-$round.time" ]] || die "no timing for $name round $round (see $out/$name-$round.log)"
  # GNU time prepends "Command exited with non-zero status N" when it did.
  echo "$name $round $status $(tail -n 1 "$out/$name-$round.time") $((after - before))" >>"$out/times"
  log "round $round: $name exit $status, $(tail -n 1 "$out/$name-$round.time" | awk '{printf "wall %.1f s, CPU %.1f s", $1, $2 + $3}')"
}

official() {
  timed official "$1" env LONG_POLL_TIMEOUT_MS=$long_poll \
    "$script_dir/official-suite.sh" "$url" --subscriptions --out "$out/official-$1"
}
harness() {
  timed harness "$1" "$dsc" --target "$url/v1/stream" --long-poll-timeout-ms "$long_poll" \
    --format terse --json "$out/harness-$1.json"
}

: >"$out/times"
for r in $(seq "$n"); do
  if ((r % 2)); then official "$r"; harness "$r"; else harness "$r"; official "$r"; fi
done
if grep -q '^harness [0-9]* 2 ' "$out/times"; then
  die "ds-conformance reported a setup error (exit 2); see $out/harness-*.log"
fi

python3 - "$out/times" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
tick = float(sys.argv[2])
runs = {"official": [], "harness": []}
print(f"{'run':<10} {'round':>5} {'exit':>4} {'wall s':>8} {'CPU s':>7} {'server CPU s':>12}")
for name, rnd, status, wall, user, sys_, ticks in rows:
    wall, cpu, server = float(wall), float(user) + float(sys_), int(ticks) / tick
    runs[name].append((wall, cpu, server))
    print(f"{name:<10} {rnd:>5} {status:>4} {wall:8.1f} {cpu:7.1f} {server:12.1f}")
med = {k: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v),
           statistics.median(s for _, _, s in v)) for k, v in runs.items()}
for k, (w, c, s) in med.items():
    print(f"{k + ' median':<16} {'':>4} {w:8.1f} {c:7.1f} {s:12.1f}")
wall_r = med["harness"][0] / med["official"][0]
cpu_r = med["harness"][1] / med["official"][1]
per_round = [(h[0] / o[0], h[1] / o[1]) for h, o in zip(runs["harness"], runs["official"])]
print("per round harness/official: " + ", ".join(f"wall {w:.2f}x CPU {c:.2f}x" for w, c in per_round))
print(f"wall harness/official {wall_r:.2f}x (target <= 0.5x): {'met' if wall_r <= 0.5 else 'missed'}")
print(f"CPU  harness/official {cpu_r:.2f}x (target <= 1x): {'met' if cpu_r <= 1 else 'missed'}")
PY
