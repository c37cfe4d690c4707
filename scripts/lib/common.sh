# shellcheck shell=bash
# Helpers shared by the scripts in scripts/. Source it; do not execute it.
#
# Everything fetched from the npm registry lives in a cache directory outside
# the repository (DS_CACHE_DIR, default ~/.cache/ds-conformance), one folder per
# package set and version, reused once installed.

DS_CACHE_DIR="${DS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ds-conformance}"

# The scripts/ folder and the repository root, whoever sources this file.
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

log() { printf '[%s] %s\n' "${DS_SCRIPT_NAME:-${0##*/}}" "$*" >&2; }
die() { log "error: $*"; exit 2; }

need() {
  local cmd
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is required but not on PATH"
  done
}

# npm_install_cached DIR STAMP PACKAGE_JSON
# Installs the dependencies described by PACKAGE_JSON (a string) into DIR,
# unless DIR already holds an install whose stamp equals STAMP. The install
# happens in a sibling temporary folder that is renamed into place only once
# complete, so an interrupted install is never mistaken for a good one.
npm_install_cached() {
  local dir="$1" stamp="$2" package_json="$3"
  if [[ -f "$dir/.ds-installed" && "$(cat "$dir/.ds-installed")" == "$stamp" ]]; then
    return 0
  fi
  need npm node
  mkdir -p "$(dirname "$dir")"
  local tmp
  tmp="$(mktemp -d "$dir.tmp.XXXXXX")"
  log "installing $stamp into $dir (npm registry)"
  printf '%s\n' "$package_json" >"$tmp/package.json"
  if ! (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error \
          --no-update-notifier >"$tmp/npm-install.log" 2>&1); then
    cat "$tmp/npm-install.log" >&2 || true
    rm -rf "$tmp"
    die "npm install failed for $stamp"
  fi
  printf '%s\n' "$stamp" >"$tmp/.ds-installed"
  rm -rf "$dir"
  # Another process may have won the race; either copy is complete.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
}

# cargo_target_dir: prints cargo's target directory (CARGO_TARGET_DIR or the
# workspace's target/); run it in the repository.
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# free_port: prints a TCP port that was free on 127.0.0.1 a moment ago.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# wait_for_line FILE REGEX TIMEOUT_S PID
# Waits until FILE has a line matching the extended REGEX and prints the first
# such line. Fails if PID exits first or TIMEOUT_S elapses.
wait_for_line() {
  local file="$1" regex="$2" timeout_s="$3" pid="$4" line
  local deadline=$((SECONDS + timeout_s))
  while ((SECONDS < deadline)); do
    if line="$(grep -E -m1 -- "$regex" "$file" 2>/dev/null)"; then
      printf '%s\n' "$line"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited before printing /$regex/; its output:"
      cat "$file" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  log "timed out after ${timeout_s}s waiting for /$regex/ in $file; output so far:"
  cat "$file" >&2 || true
  return 1
}

# stop_pid PID [NAME]: SIGTERM, then SIGKILL after 5 s. Only the given process.
stop_pid() {
  local pid="$1" name="${2:-process}"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name ($pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# stop_group PID [NAME]: like stop_pid, for a process started with setsid:
# signals its whole process group (whose id is PID), then reaps PID.
stop_group() {
  local pid="$1" name="${2:-process group}"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name ($pid) ignored SIGTERM; killing its process group"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# write_restart_cmd FILE WORK SIGNAL READY_REGEX COMMAND...
# Writes FILE, a script for ds-conformance --restart-cmd: it stops the server
# whose pid is in WORK/pid with SIGNAL, starts COMMAND again in its own
# session (output in WORK/server-N.log, N counted in WORK/starts) and returns
# once that log has a line matching the extended READY_REGEX, retrying while
# the port is still held by the old process.
write_restart_cmd() {
  local file="$1" work="$2" signal="$3" ready="$4" cmd
  shift 4
  cmd="$(printf '%q ' "$@")"
  cat >"$file" <<SH
#!/usr/bin/env bash
set -euo pipefail
if [[ -s "$work/pid" ]]; then
  pid=\$(cat "$work/pid")
  kill -$signal "\$pid" 2>/dev/null || true
  for _ in \$(seq 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.05; done
fi
n=\$(( \$(cat "$work/starts" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"$work/starts"
log="$work/server-\$n.log"
for _ in \$(seq 50); do
  setsid $cmd </dev/null >"\$log" 2>&1 &
  echo \$! >"$work/pid"
  for _ in \$(seq 300); do
    grep -qE $(printf '%q' "$ready") "\$log" 2>/dev/null && exit 0
    kill -0 "\$(cat "$work/pid")" 2>/dev/null || break
    sleep 0.05
  done
  sleep 0.1   # the port may not be free yet: try again
done
echo "the server did not come back; see \$log" >&2
exit 1
SH
  chmod +x "$file"
}

# stop_work_on_exit NAME: on exit stops the server whose pid is in
# $work/pid (NAME in messages) and removes $work; SIGINT and SIGTERM exit
# with 130 and 143 (through the same cleanup).
stop_work_on_exit() {
  _work_server_name="$1"
  trap _stop_work EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
_stop_work() {
  local status=$?
  [[ -s "$work/pid" ]] && stop_pid "$(cat "$work/pid")" "$_work_server_name"
  rm -rf "$work"
  exit "$status"
}

# run_peer_suite TARGET LONG_POLL_MS EXPECTATIONS REPORT SERVER_LOG [ARGS...]
# Runs ds-conformance against TARGET with a fixed seed (DS_PEER_SEED, default
# 20261130: the property cases stay reproducible, so an expectations file can
# list them honestly), with EXPECTATIONS (relative to $repo_root) when that
# file exists, plus ARGS. The runner goes to the background in its own
# process group, its pid in $runner_pid, so that the caller's signal trap
# runs at once and can stop cargo and its child. Returns the runner's status.
run_peer_suite() {
  local target="$1" long_poll="$2" expectations="$3" report="$4" server_log="$5" status=0
  shift 5
  local -a args=(--target "$target" --long-poll-timeout-ms "$long_poll"
    --seed "${DS_PEER_SEED:-20261130}" --json "$report")
  if [[ -f "$repo_root/$expectations" ]]; then
    args+=(--expectations "$expectations")
  else
    log "no $expectations: running without expectations"
  fi
  cd "$repo_root"
  if [[ -n "${DS_CONFORMANCE_BIN:-}" ]]; then
    # A prebuilt runner (scripts/peer-matrix.sh builds it once).
    setsid "$DS_CONFORMANCE_BIN" "${args[@]}" "$@" </dev/null &
  else
    setsid cargo run --release --bin ds-conformance -- "${args[@]}" "$@" </dev/null &
  fi
  runner_pid=$!
  wait "$runner_pid" || status=$?
  runner_pid=""
  log "ds-conformance exited with $status; JSON report: $report; server log: $server_log"
  return "$status"
}
