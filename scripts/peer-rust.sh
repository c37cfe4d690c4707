#!/usr/bin/env bash
# Cross-check: runs ds-conformance against a published Rust Durable Streams
# server from crates.io (built from the registry, never vendored here).
set -euo pipefail

# shellcheck disable=SC2034  # read by lib/common.sh
DS_SCRIPT_NAME=peer-rust.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
usage: scripts/peer-rust.sh NAME [VERSION] [-- EXTRA_DS_CONFORMANCE_ARGS...]
       scripts/peer-rust.sh --install-only NAME [VERSION]

NAME is a crate on crates.io that ships a Durable Streams server binary:

  durable-streams-server  (default VERSION 0.3.0; axum server, binary
                          durable-streams-server, configured through DS_*
                          environment variables; streams under /v1/stream;
                          run with in-memory storage and a 1 s long-poll
                          timeout, its smallest: the setting is in seconds)
  durable-streams         (default VERSION 0.1.5; binary durable-streams-server,
                          configured by flags; streams at any path, /v1/stream
                          used here; run with its default WAL durability in a
                          fresh data directory and a 500 ms long-poll timeout)

Installs NAME@VERSION with 'cargo install --locked' (the crate's own
Cargo.lock) into \$DS_CACHE_DIR/rust-NAME-VERSION (default cache dir:
~/.cache/ds-conformance; reused once installed), starts it on a free
127.0.0.1 port, runs

  cargo run --release --bin ds-conformance -- --target <stream root>
      --long-poll-timeout-ms <its timeout> --json <out>/report.json
      [--expectations fixtures/expectations/rust-NAME-VERSION.toml]
      [EXTRA_DS_CONFORMANCE_ARGS...]

(the expectations flag only when that file exists) and stops the server on
exit. Exits with ds-conformance's status.

Environment: DS_PEER_OUT (directory for report.json, server.log and the
server's data; default a new temporary directory), DS_CACHE_DIR,
CARGO_BUILD_JOBS (parallelism of the peer's build), CARGO_TARGET_DIR (for
ds-conformance only; the peer builds in its own folder in the cache dir).
EOF
}

# Each supported crate: its default version.
declare -A default_version=(
  [durable-streams-server]=0.3.0
  [durable-streams]=0.1.5
)

install_only=false
name=""
version=""
extra=()
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --install-only) install_only=true; shift ;;
    --) shift; extra=("$@"); break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *)
      if [[ -z "$name" ]]; then name="$1"
      elif [[ -z "$version" ]]; then version="$1"
      else usage >&2; die "unexpected argument $1"
      fi
      shift ;;
  esac
done
[[ -n "$name" ]] || { usage >&2; die "NAME is required"; }
[[ -n "${default_version[$name]+x}" ]] \
  || die "unsupported crate '$name' (known: ${!default_version[*]})"
version="${version:-${default_version[$name]}}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "bad VERSION '$version'"
need cargo python3

# ---- install (cached) -------------------------------------------------------

# cargo_install_cached CRATE VERSION ROOT
# 'cargo install --locked CRATE@=VERSION' into ROOT, unless ROOT already holds
# a finished install of exactly that. Builds into a temporary root that is
# renamed into place only once complete, so an interrupted build is never
# mistaken for a good one. The build folder (ROOT.build) is kept for a rebuild.
cargo_install_cached() {
  local crate="$1" ver="$2" root="$3" stamp="$1@$2"
  if [[ -f "$root/.ds-installed" && "$(cat "$root/.ds-installed")" == "$stamp" ]]; then
    return 0
  fi
  mkdir -p "$(dirname "$root")"
  local tmp
  tmp="$(mktemp -d "$root.tmp.XXXXXX")"
  chmod 755 "$tmp"
  log "building $stamp into $root (crates.io; takes minutes the first time)"
  # No CARGO_TARGET_DIR inherited: the peer's build must not share ours.
  if ! CARGO_TARGET_DIR="$root.build" cargo install --locked --quiet \
        --root "$tmp" "$crate" --version "=$ver" >"$tmp/cargo-install.log" 2>&1; then
    tail -n 40 "$tmp/cargo-install.log" >&2 || true
    rm -rf "$tmp"
    die "cargo install failed for $stamp"
  fi
  printf '%s\n' "$stamp" >"$tmp/.ds-installed"
  rm -rf "$root"
  # Another process may have won the race; either copy is complete.
  mv -T "$tmp" "$root" 2>/dev/null || rm -rf "$tmp"
}

root="$DS_CACHE_DIR/rust-$name-$version"
cargo_install_cached "$name" "$version" "$root"
bin="$root/bin/durable-streams-server"
[[ -x "$bin" ]] || die "$bin is missing after installing $name@$version"
$install_only && { log "installed $name@$version in $root"; exit 0; }

# ---- run ----------------------------------------------------------------------

out_dir="${DS_PEER_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/peer-rust.XXXXXX")}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
server_log="$out_dir/server.log"
prefix=/v1/stream

server_pid=""
runner_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  stop_group "$runner_pid" "ds-conformance"
  stop_pid "$server_pid" "$name server"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server PORT: starts the peer in the background (server_pid), its
# output in server_log; sets long_poll (ms) and ready (regex of the line it
# prints once its listener is bound).
start_server() {
  local port="$1"
  case "$name" in
    durable-streams-server)
      # Its config files come from a directory compiled into the binary (the
      # crate's source folder); DS_* variables override every file, so the
      # settings below hold whatever those files say.
      long_poll=1000
      ready='server listening'
      env NO_COLOR=1 RUST_LOG=info \
        DS_SERVER__BIND_ADDRESS="127.0.0.1:$port" \
        DS_TRANSPORT__MODE=http \
        DS_TRANSPORT__CONNECTION__LONG_POLL_TIMEOUT_SECS=$((long_poll / 1000)) \
        DS_STORAGE__MODE=memory \
        DS_HTTP__STREAM_BASE_PATH="$prefix" \
        "$bin" serve </dev/null >"$server_log" 2>&1 &
      ;;
    durable-streams)
      long_poll=500
      ready='listening on http://'
      local data_dir="$out_dir/data"
      rm -rf "$data_dir"
      mkdir -p "$data_dir"
      "$bin" --host 127.0.0.1 --port "$port" --data-dir "$data_dir" \
        --long-poll-timeout-ms "$long_poll" </dev/null >"$server_log" 2>&1 &
      ;;
  esac
  server_pid=$!
}

# The port is picked free a moment before the server binds it; another process
# may take it in between, so retry a few times with a new port.
target=""
for attempt in 1 2 3; do
  port="$(free_port)"
  start_server "$port"
  if wait_for_line "$server_log" "$ready" 60 "$server_pid" >/dev/null; then
    target="http://127.0.0.1:$port$prefix"
    break
  fi
  stop_pid "$server_pid" "$name server"
  server_pid=""
  log "attempt $attempt: $name did not start on port $port"
done
[[ -n "$target" ]] || die "the $name server did not start"
log "$name $version up (pid $server_pid), stream root $target, long-poll timeout ${long_poll} ms"

status=0
run_peer_suite "$target" "$long_poll" "fixtures/expectations/rust-$name-$version.toml" \
  "$out_dir/report.json" "$server_log" "${extra[@]}" || status=$?
exit "$status"
