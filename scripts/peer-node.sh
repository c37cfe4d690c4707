#!/usr/bin/env bash
# Cross-check: runs ds-conformance against the published Node reference server.
set -euo pipefail

DS_SCRIPT_NAME=peer-node.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
usage: scripts/peer-node.sh [VERSION] [-- EXTRA_DS_CONFORMANCE_ARGS...]

Starts @durable-streams/server@VERSION (default 0.3.7; see scripts/node-server.sh)
on a free 127.0.0.1 port with a 500 ms long-poll timeout, runs

  cargo run --release --bin ds-conformance -- --target <stream root>
      --long-poll-timeout-ms 500
      [--expectations fixtures/expectations/node-VERSION.toml]
      --json <out>/node.json [EXTRA_DS_CONFORMANCE_ARGS...]

(the expectations flag only when that file exists) and stops the server on
exit. Exits with ds-conformance's status.

Environment: DS_PEER_OUT (directory for node.json and node-server.log; default
a new temporary directory), DS_CACHE_DIR, CARGO_TARGET_DIR.
EOF
}

version=0.3.7
extra=()
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) version="$1"; shift ;;
  esac
done
need cargo node npm python3

out_dir="${DS_PEER_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/peer-node.XXXXXX")}"
mkdir -p "$out_dir"
server_log="$out_dir/node-server.log"
long_poll=500

# Install first, so the start-up wait below does not include npm.
"$script_dir/node-server.sh" --install-only "$version"

server_pid=""
runner_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  stop_group "$runner_pid" "ds-conformance"
  stop_pid "$server_pid" "node server"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Port 0: the server binds a free port itself and prints it, so no race.
LONG_POLL_TIMEOUT_MS=$long_poll "$script_dir/node-server.sh" "$version" 0 </dev/null >"$server_log" 2>&1 &
server_pid=$!
root_line="$(wait_for_line "$server_log" '^stream root: http://' 60 "$server_pid")" \
  || die "the Node server did not start"
target="${root_line#stream root: }"
log "Node server $version up (pid $server_pid), stream root $target"

status=0
run_peer_suite "$target" "$long_poll" "fixtures/expectations/node-$version.toml" \
  "$out_dir/node.json" "$server_log" "${extra[@]}" || status=$?
exit "$status"
