#!/usr/bin/env bash
# Implementation matrix: runs ds-conformance against every implementation it
# can start here and renders matrix.md + matrix.html (ds-conformance matrix).
set -euo pipefail

DS_SCRIPT_NAME=peer-matrix.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
usage: scripts/peer-matrix.sh [--out DIR] [--only NAME]... [--screenshot]
                              [-- EXTRA_DS_CONFORMANCE_ARGS...]

Runs the suite (fixed seed, no expectations file: the matrix shows raw
outcomes) against:

  ds-server-memory, ds-server-file       this repository's reference server
  node-0.3.7, node-0.3.2, node-0.2.2     @durable-streams/server (npm), memory
  node-0.3.7-file, node-0.3.2-file,
  node-0.2.2-file                        the same with their file store
  rust-durable-streams                   crates.io durable-streams 0.1.5
  rust-durable-streams-server            crates.io durable-streams-server 0.3.0
                                         (both built by scripts/peer-rust.sh
                                         into the cache dir, never the repo)

An implementation that fails to install, build or start is a "did not run"
column with the reason. Writes DIR/reports/NAME.json, DIR/logs/NAME.log,
DIR/matrix.md, DIR/matrix.html and DIR/transcripts/ (default DIR:
target/matrix), then checks that matrix.html has one cell per case and
implementation (the JSON reports' count). --screenshot also renders the
page in headless Chromium to DIR/matrix.png.

Environment: DS_CONFORMANCE_BIN (a built ds-conformance; default: cargo
build --release), DS_CACHE_DIR, CARGO_BUILD_JOBS (peer builds).
EOF
}

out="$repo_root/target/matrix"
only=()
screenshot=false
extra=()
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --out) out="$2"; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    --screenshot) screenshot=true; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
need cargo python3
mkdir -p "$out/reports" "$out/logs"
out="$(cd "$out" && pwd)"

if [[ -z "${DS_CONFORMANCE_BIN:-}" ]]; then
  (cd "$repo_root" && cargo build --release --quiet --bin ds-conformance)
  DS_CONFORMANCE_BIN="${CARGO_TARGET_DIR:-$repo_root/target}/release/ds-conformance"
fi
[[ -x "$DS_CONFORMANCE_BIN" ]] || die "no ds-conformance binary at $DS_CONFORMANCE_BIN"
seed="${DS_PEER_SEED:-20261130}"

all=(ds-server-memory ds-server-file node-0.3.7 node-0.3.2 node-0.2.2
  node-0.3.7-file node-0.3.2-file node-0.2.2-file
  rust-durable-streams rust-durable-streams-server)
((${#only[@]})) || only=("${all[@]}")

server_pid=""
ready_line=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() { stop_pid "$server_pid" "server"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

reports=()
broken=()

# suite NAME ROOT LONG_POLL_MS: run the suite, keep the JSON report.
suite() {
  local name="$1" root="$2" long_poll="$3" status=0
  log "$name: running the suite against $root"
  "$DS_CONFORMANCE_BIN" --target "$root" --long-poll-timeout-ms "$long_poll" \
    --seed "$seed" --json "$out/reports/$name.json" --format terse "${extra[@]}" \
    </dev/null >>"$out/logs/$name.log" 2>&1 || status=$?
  if [[ -s "$out/reports/$name.json" ]] && ((status <= 1)); then
    reports+=(--report "$name=$out/reports/$name.json")
  else
    broken+=(--broken "$name=the suite could not run (exit $status; see logs/$name.log)")
  fi
}

# start NAME READY_REGEX COMMAND...: start a server (its pid in server_pid,
# for the caller and the EXIT trap to stop), wait for its ready line and put
# it in ready_line ('stream root: URL' or 'listening on URL'). Not to be
# called in a command substitution: the pid would stay in the subshell and
# the server would outlive the script.
start() {
  local name="$1" ready="$2"
  shift 2
  "$@" </dev/null >"$out/logs/$name.server.log" 2>&1 &
  server_pid=$!
  ready_line="$(wait_for_line "$out/logs/$name.server.log" "$ready" 120 "$server_pid" 2>>"$out/logs/$name.log")"
}

run_ds_server() {
  local name="$1" store="$2" root
  # Subscriptions on, with loopback webhook URLs (the harness's receiver
  # listens on 127.0.0.1), as the Node peers run with webhooks: true.
  local -a args=(--port 0 --long-poll-timeout-ms 500 --webhooks --allow-local-webhooks)
  if [[ "$store" == file ]]; then
    rm -rf "$out/data/$name"; mkdir -p "$out/data/$name"
    args+=(--data-dir "$out/data/$name")
  fi
  local bin="${DS_SERVER_BIN:-$(dirname "$DS_CONFORMANCE_BIN")/ds-server}"
  if [[ ! -x "$bin" ]]; then
    (cd "$repo_root" && cargo build --release --quiet --bin ds-server) >>"$out/logs/$name.log" 2>&1 \
      || { broken+=(--broken "$name=cargo build failed"); return; }
    bin="${CARGO_TARGET_DIR:-$repo_root/target}/release/ds-server"
  fi
  if ! start "$name" '^listening on http://' "$bin" "${args[@]}"; then
    broken+=(--broken "$name=did not start"); stop_pid "$server_pid"; server_pid=""; return
  fi
  root="${ready_line#listening on }/v1/stream"
  suite "$name" "$root" 500
  stop_pid "$server_pid" "$name"; server_pid=""
}

run_node() {
  local name="$1" version="$2" store="$3" data=()
  if ! "$script_dir/node-server.sh" --install-only "$version" >>"$out/logs/$name.log" 2>&1; then
    broken+=(--broken "$name=npm install of @durable-streams/server@$version failed"); return
  fi
  if [[ "$store" == file ]]; then
    rm -rf "$out/data/$name"; mkdir -p "$out/data/$name"; data=("$out/data/$name")
  fi
  if ! LONG_POLL_TIMEOUT_MS=500 start "$name" '^stream root: http://' \
        "$script_dir/node-server.sh" "$version" 0 "${data[@]}"; then
    broken+=(--broken "$name=did not start (see logs/$name.server.log)"); stop_pid "$server_pid"; server_pid=""; return
  fi
  suite "$name" "${ready_line#stream root: }" 500
  stop_pid "$server_pid" "$name"; server_pid=""
}

run_rust() {
  local name="$1" crate="$2" status=0
  # peer-rust.sh builds (cached), starts, runs and stops the peer itself.
  if ! "$script_dir/peer-rust.sh" --install-only "$crate" >>"$out/logs/$name.log" 2>&1; then
    broken+=(--broken "$name=cargo install of $crate failed (see logs/$name.log)"); return
  fi
  mkdir -p "$out/data/$name"
  DS_PEER_OUT="$out/data/$name" DS_CONFORMANCE_BIN="$DS_CONFORMANCE_BIN" \
    "$script_dir/peer-rust.sh" "$crate" -- --format terse </dev/null >>"$out/logs/$name.log" 2>&1 || status=$?
  if [[ -s "$out/data/$name/report.json" ]] && ((status <= 1)); then
    cp "$out/data/$name/report.json" "$out/reports/$name.json"
    reports+=(--report "$name=$out/reports/$name.json")
  else
    broken+=(--broken "$name=did not start or the suite could not run (exit $status; see logs/$name.log)")
  fi
}

for name in "${only[@]}"; do
  : >"$out/logs/$name.log"
  rm -f "$out/reports/$name.json"
  case "$name" in
    ds-server-memory) run_ds_server "$name" memory ;;
    ds-server-file) run_ds_server "$name" file ;;
    node-*-file) v="${name#node-}"; run_node "$name" "${v%-file}" file ;;
    node-*) run_node "$name" "${name#node-}" memory ;;
    rust-durable-streams) run_rust "$name" durable-streams ;;
    rust-durable-streams-server) run_rust "$name" durable-streams-server ;;
    *) die "unknown implementation $name (known: ${all[*]})" ;;
  esac
done

rm -rf "$out/transcripts"
"$DS_CONFORMANCE_BIN" matrix --out "$out" \
  --title "Durable Streams implementation matrix, $(date -u +%Y-%m-%d) (ds-conformance $(git -C "$repo_root" rev-parse --short HEAD), seed $seed)" \
  "${reports[@]}" "${broken[@]}"

# The page must hold one cell per (case, implementation): count them
# against the JSON reports.
python3 - "$out" <<'PY'
import json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
page = (out / "matrix.html").read_text()
heads = re.findall(r"<th>([^<]*)</th>", page.split("<h2>Cases</h2>")[1].split("</tr>")[0])
impls = heads[2:]
ids, entries = set(), 0
for f in (out / "reports").glob("*.json"):
    if f.stem not in impls:
        continue
    cases = json.loads(f.read_text())["cases"]
    entries += len(cases)
    ids.update(c["id"] for c in cases)
cells = page.count('<td class="cell ')
filled = cells - page.count('<td class="cell o-missing"') - page.count('<td class="cell o-notrun"')
assert cells == len(ids) * len(impls), f"{cells} cells, expected {len(ids)} cases x {len(impls)} implementations"
assert filled == entries, f"{filled} filled cells, the JSON reports hold {entries} case results"
print(f"matrix check: {cells} cells = {len(ids)} cases x {len(impls)} implementations; {filled} results = the JSON reports' {entries}")
PY

if $screenshot; then
  chrome="$(command -v chromium || command -v chromium-browser || true)"
  [[ -n "$chrome" ]] || die "--screenshot needs chromium (apt-get install chromium)"
  timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-extensions --disable-sync --no-first-run --hide-scrollbars \
    --window-size=1400,1800 --screenshot="$out/matrix.png" "file://$out/matrix.html" \
    >>"$out/logs/chromium.log" 2>&1 || die "chromium could not render matrix.html (logs/chromium.log)"
  log "screenshot: $out/matrix.png"
fi
log "matrix: $out/matrix.md, $out/matrix.html"
