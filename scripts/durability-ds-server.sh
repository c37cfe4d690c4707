#!/usr/bin/env bash
# The durability:: group of ds-conformance against a real `ds-server
# --data-dir` process that is crashed and restarted between writing and
# verifying: the --restart-cmd given to the harness SIGKILLs the server (no
# graceful shutdown, no flush) and starts it again on the same port and data
# directory. Also shows how to use --restart-cmd with any server. The
# server compacts its journal as often as it can (--compact-min-mib 0), so
# kills also land in the middle of compactions.
#
# Usage: scripts/durability-ds-server.sh [SIGNAL] [-- DS_CONFORMANCE_ARGS...]
#        SIGNAL: KILL (default) or TERM for a graceful restart. The harness
#        also gets --kill-cmd (SIGKILL of the running server), so
#        `-- crash:: --crash-rounds 20` runs the crash group instead of the
#        default `durability::`.
set -euo pipefail

DS_SCRIPT_NAME=durability-ds-server
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
esac
signal=KILL
[[ $# -gt 0 && "$1" != "--" ]] && { signal="$1"; shift; }
[[ "${1:-}" == "--" ]] && shift
args=("$@")
((${#args[@]})) || args=(durability::)

cd "$repo_root"
cargo build --release -q -p ds-reference-server --bin ds-server -p ds-conformance --bin ds-conformance
target_dir="$(cargo_target_dir)"

work="$(mktemp -d "${TMPDIR:-/tmp}/ds-durability.XXXXXX")"
port="$(free_port)"
mkdir -p "$work/data"

# The restart command: kill the running server with $signal, start a new
# one on the same port and data dir, return once it is listening.
write_restart_cmd "$work/restart.sh" "$work" "$signal" 'listening on' \
  "$target_dir/release/ds-server" --host 127.0.0.1 --port "$port" \
  --data-dir "$work/data" --long-poll-timeout-ms 500 --compact-min-mib 0

stop_work_on_exit ds-server

"$work/restart.sh"
log "ds-server --data-dir on 127.0.0.1:$port; restarts with SIG$signal"
status=0
"$target_dir/release/ds-conformance" --target "http://127.0.0.1:$port/v1/stream" \
  --long-poll-timeout-ms 500 --restart-cmd "$work/restart.sh" \
  --kill-cmd "kill -KILL \$(cat $(printf '%q' "$work/pid"))" "${args[@]}" || status=$?
log "ds-server was started $(cat "$work/starts") times; $(cat "$work"/server-*.log \
  | grep -c 'compacted the data directory' || true) compactions finished"
exit "$status"
