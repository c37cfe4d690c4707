#!/usr/bin/env bash
# Runs the published Node reference server (@durable-streams/server from the
# npm registry) in the foreground on 127.0.0.1, for cross-checks.
set -euo pipefail

DS_SCRIPT_NAME=node-server.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<EOF
usage: scripts/node-server.sh [VERSION [PORT [DATA_DIR]]]
       scripts/node-server.sh --install-only [VERSION]

Installs @durable-streams/server@VERSION (default 0.3.7; 0.2.2 and 0.3.2 also
exist) into \$DS_CACHE_DIR/node-server-VERSION (default cache dir:
~/.cache/ds-conformance; reused once installed) and runs it in the foreground on
127.0.0.1:PORT (default 0 = any free port). With DATA_DIR it uses the server's
file-backed store, otherwise memory. Stop it with SIGINT/SIGTERM.

Once bound it prints:
  listening on http://127.0.0.1:PORT
  stream root: http://127.0.0.1:PORT/v1/stream

The server accepts streams at any path; /v1/stream is the prefix its own client
and the official suite use (and under which it reserves /v1/stream/__ds/...).

Environment: LONG_POLL_TIMEOUT_MS (default 500; the package's default is 30000),
WEBHOOKS (1 = webhook subscriptions on, the default here; 0 = off, as in the
package), DS_CACHE_DIR.
EOF
}

install_only=false
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --install-only) install_only=true; shift ;;
esac
(($# <= 3)) || { usage >&2; exit 2; }

version="${1:-0.3.7}"
port="${2:-0}"
data_dir="${3:-}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.-]+)?$ ]] || die "bad VERSION '$version'"
[[ "$port" =~ ^[0-9]+$ ]] || die "bad PORT '$port'"

need node npm
dir="$DS_CACHE_DIR/node-server-$version"
npm_install_cached "$dir" "@durable-streams/server@$version" "$(cat <<EOF
{
  "name": "ds-node-server-$version",
  "private": true,
  "type": "module",
  "dependencies": { "@durable-streams/server": "$version" }
}
EOF
)"
$install_only && { log "installed in $dir"; exit 0; }

# The launcher must sit beside node_modules for its import to resolve.
cp "$script_dir/node/node-server.mjs" "$dir/node-server.$$.mjs"
mv -f "$dir/node-server.$$.mjs" "$dir/node-server.mjs"

if [[ -n "$data_dir" ]]; then
  mkdir -p "$data_dir"
  data_dir="$(cd "$data_dir" && pwd)"
fi
export LONG_POLL_TIMEOUT_MS="${LONG_POLL_TIMEOUT_MS:-500}"
export WEBHOOKS="${WEBHOOKS:-1}"
cd "$dir"
exec node node-server.mjs "$port" ${data_dir:+"$data_dir"}
