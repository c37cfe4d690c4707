#!/usr/bin/env bash
# The durability:: group (and subscriptions::restart::) of ds-conformance
# against the published Node
# reference server (@durable-streams/server, file-backed store via its
# dataDir option), crashed and restarted between writing and verifying: the
# --restart-cmd given to the harness SIGKILLs the server (no graceful
# shutdown, no flush) and starts it again on the same port and data
# directory, returning once it answers. Same shape as
# scripts/durability-ds-server.sh, which does this for our ds-server.
#
# Usage: scripts/durability-node.sh [VERSION [SIGNAL]] [-- DS_CONFORMANCE_ARGS...]
#        (default 0.3.7 and KILL; TERM for a graceful restart). The harness
#        also gets --kill-cmd (SIGKILL of the running server), so
#        `-- crash:: --crash-rounds 30` runs that group instead of the
#        default durability:: and subscriptions::restart::.
# Environment: DS_CACHE_DIR (see scripts/node-server.sh), CARGO_TARGET_DIR.
set -euo pipefail

DS_SCRIPT_NAME=durability-node
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
esac
version=0.3.7
signal=KILL
[[ $# -gt 0 && "$1" != "--" ]] && { version="$1"; shift; }
[[ $# -gt 0 && "$1" != "--" ]] && { signal="$1"; shift; }
[[ "${1:-}" == "--" ]] && shift
extra=("$@")
need cargo node npm python3

# Install first, so no restart waits on npm.
"$script_dir/node-server.sh" --install-only "$version"
cd "$repo_root"
cargo build --release -q -p ds-conformance --bin ds-conformance
target_dir="$(cargo_target_dir)"

work="$(mktemp -d "${TMPDIR:-/tmp}/ds-durability-node.XXXXXX")"
port="$(free_port)"
mkdir -p "$work/data"

# The restart command: kill the running server with $signal, start a new
# one on the same port and data dir (node-server.sh execs node, so the pid
# is the server's), return once it prints its stream root.
write_restart_cmd "$work/restart.sh" "$work" "$signal" '^stream root: ' \
  env LONG_POLL_TIMEOUT_MS=500 "$script_dir/node-server.sh" "$version" "$port" "$work/data"

stop_work_on_exit "node server"

"$work/restart.sh"
log "Node server $version (dataDir) on 127.0.0.1:$port; restarts with SIG$signal"
args=(--target "http://127.0.0.1:$port/v1/stream" --long-poll-timeout-ms 500
  --restart-cmd "$work/restart.sh" --kill-cmd "kill -KILL \$(cat $(printf '%q' "$work/pid"))")
expectations="fixtures/expectations/node-$version.toml"
[[ -f "$expectations" ]] && args+=(--expectations "$expectations")
status=0
# durability:: and the restart cases of subscriptions:: (webhooks on).
if ((${#extra[@]})); then
  "$target_dir/release/ds-conformance" "${args[@]}" "${extra[@]}" || status=$?
else
  for group in durability:: subscriptions::restart::; do
    "$target_dir/release/ds-conformance" "${args[@]}" "$group" || status=$?
  done
fi
log "the Node server was started $(cat "$work/starts") times"
exit "$status"
