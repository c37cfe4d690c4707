#!/usr/bin/env bash
# Flake check: runs the default ds-conformance suite N times against each
# TARGET while the machine is loaded, and lists every case that ever failed,
# with its failure, per target. Zero failures on ds-server and nothing beyond
# the expectations file on the Node peer is the goal (issue 16).
#
# Usage: scripts/flake-check.sh [--load suite|burn|none] [--out DIR] N [TARGET...]
#   TARGET: memory (ds-server, memory store) and file (ds-server --data-dir),
#           both with webhooks on (local receivers allowed); node
#           (@durable-streams/server 0.3.7, memory, webhooks on, with
#           fixtures/expectations/node-0.3.7.toml). Default: all three.
#   --load suite (default): a second suite run (ds-conformance against its
#           embedded server) loops in parallel the whole time;
#           burn: one busy-looping process per core; none: no extra load.
#   Every target gets --long-poll-timeout-ms 500. ds-server runs get a new
#   random seed each iteration (printed); the Node runs use the fixed seed of
#   scripts/peer-node.sh, which its expectations file is written against.
# Exit status: 0 if no case ever failed (a failure is an outcome that fails
# the run: failed, unexpected pass, setup error, or leftovers whose DELETE was
# acknowledged), 1 otherwise, 2 on a setup problem. Inconclusive verdicts and
# leftover warnings are listed but do not fail the check.
# Environment: CARGO_TARGET_DIR, DS_CACHE_DIR (Node install cache).
set -euo pipefail

DS_SCRIPT_NAME=flake-check
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

load=suite
out_dir=""
while (($#)); do
  case "$1" in
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    --load) load="${2:?--load needs a value}"; shift 2 ;;
    --out) out_dir="${2:?--out needs a directory}"; shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[[ $# -ge 1 && "$1" =~ ^[1-9][0-9]*$ ]] || die "usage: scripts/flake-check.sh [--load suite|burn|none] N [TARGET...]"
n="$1"
shift
targets=("$@")
((${#targets[@]})) || targets=(memory file node)
for t in "${targets[@]}"; do
  [[ "$t" =~ ^(memory|file|node)$ ]] || die "unknown target $t (memory, file or node)"
done
[[ "$load" =~ ^(suite|burn|none)$ ]] || die "--load must be suite, burn or none"
need cargo python3
node_version=0.3.7
long_poll=500

cd "$repo_root"
cargo build --release -q -p ds-reference-server --bin ds-server -p ds-conformance --bin ds-conformance
target_dir="$(cargo_target_dir)"
dsc="$target_dir/release/ds-conformance"
dss="$target_dir/release/ds-server"
if [[ " ${targets[*]} " == *" node "* ]]; then
  need node npm
  "$script_dir/node-server.sh" --install-only "$node_version"
fi

out_dir="${out_dir:-$(mktemp -d "${TMPDIR:-/tmp}/flake-check.XXXXXX")}"
mkdir -p "$out_dir"
server_pid=""
load_pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  stop_pid "$server_pid" "server"
  for p in "${load_pids[@]}"; do stop_group "$p" "load"; done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "$load" in
  suite)
    # A second suite run, over and over, in its own process group.
    setsid bash -c 'while :; do "$1" --format terse >/dev/null 2>&1 || true; done' _ "$dsc" </dev/null &
    load_pids+=($!)
    ;;
  burn)
    for _ in $(seq "$(nproc)"); do
      setsid bash -c 'while :; do :; done' </dev/null &
      load_pids+=($!)
    done
    ;;
esac
log "load: $load; $n iteration(s) x ${targets[*]}; reports in $out_dir"

# start_server TARGET LOG: starts it, sets $server_pid and $root.
start_server() {
  local target="$1" log_file="$2" line
  case "$target" in
    memory|file)
      local -a store=()
      if [[ "$target" == file ]]; then
        rm -rf "$out_dir/data"
        mkdir -p "$out_dir/data"
        store=(--data-dir "$out_dir/data")
      fi
      "$dss" --host 127.0.0.1 --port 0 --long-poll-timeout-ms "$long_poll" \
        --webhooks --allow-local-webhooks "${store[@]}" \
        </dev/null >"$log_file" 2>&1 &
      server_pid=$!
      line="$(wait_for_line "$log_file" 'listening on https?://' 60 "$server_pid")" \
        || die "ds-server did not start"
      root="$(grep -oE 'https?://[^[:space:]]+' <<<"$line" | head -n1)"
      root="${root%/}/v1/stream"
      ;;
    node)
      LONG_POLL_TIMEOUT_MS=$long_poll "$script_dir/node-server.sh" "$node_version" 0 \
        </dev/null >"$log_file" 2>&1 &
      server_pid=$!
      line="$(wait_for_line "$log_file" '^stream root: http://' 60 "$server_pid")" \
        || die "the Node server did not start"
      root="${line#stream root: }"
      ;;
  esac
}

started=$SECONDS
for i in $(seq "$n"); do
  for t in "${targets[@]}"; do
    run_start=$SECONDS
    start_server "$t" "$out_dir/$t-$i.server.log"
    args=(--target "$root" --long-poll-timeout-ms "$long_poll" --format terse
      --json "$out_dir/$t-$i.json")
    if [[ "$t" == node ]]; then
      args+=(--seed "${DS_PEER_SEED:-20261130}" --expectations "fixtures/expectations/node-$node_version.toml")
    else
      args+=(--seed "$(( (RANDOM << 30 | RANDOM << 15 | RANDOM) ))")
    fi
    status=0
    "$dsc" "${args[@]}" >"$out_dir/$t-$i.log" 2>&1 || status=$?
    stop_pid "$server_pid" "$t server"
    server_pid=""
    if ((status == 2)) || [[ ! -s "$out_dir/$t-$i.json" ]]; then
      tail -n 20 "$out_dir/$t-$i.log" >&2 || true
      die "setup error in run $i against $t (exit $status); see $out_dir/$t-$i.log"
    fi
    log "run $i/$n vs $t: exit $status, $((SECONDS - run_start)) s ($(tail -n 1 "$out_dir/$t-$i.log"))"
  done
done
log "$n iteration(s) in $((SECONDS - started)) s"

# Every case that ever failed, per target, with how often and its first failure.
python3 - "$out_dir" "$n" "${targets[@]}" <<'PY'
import json, sys, collections
out, n, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
bad = {"failed", "unexpected_pass", "setup_error"}
failed_any = False
for t in targets:
    fails = collections.OrderedDict()
    other = collections.defaultdict(list)
    for i in range(1, n + 1):
        with open(f"{out}/{t}-{i}.json") as f:
            rep = json.load(f)
        for c in rep["cases"]:
            if c["outcome"] in bad:
                fails.setdefault(c["id"], []).append((i, c["outcome"], (c.get("message") or "").strip()))
            elif c["outcome"] == "inconclusive":
                other[c["id"]].append(i)
        for l in rep.get("leftovers", []):
            key = "leftover (DELETE acknowledged)" if l["delete_acknowledged"] else "leftover (warning)"
            other[f"{key} {l['url']}"].append(i)
            if l["delete_acknowledged"]:
                fails.setdefault("runner: leftovers", []).append((i, "failed", l["url"]))
    print(f"\n== {t}: {n} run(s), {len(fails)} case(s) ever failed")
    for cid, runs in fails.items():
        failed_any = True
        i, outcome, msg = runs[0]
        print(f"  {cid}: {len(runs)}/{n} ({outcome}; first in run {i})")
        for line in msg.splitlines()[:4]:
            print(f"      {line}")
    for what, runs in other.items():
        print(f"  (not a failure) {what}: inconclusive/leftover in {len(runs)}/{n} run(s)")
print("\nflake-check: " + ("FAILURES above" if failed_any else "no case ever failed"))
sys.exit(1 if failed_any else 0)
PY
