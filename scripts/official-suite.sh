#!/usr/bin/env bash
# Runs the official TypeScript conformance suite against a Durable Streams
# server and compares its failures with an expectations file.
set -euo pipefail

DS_SCRIPT_NAME=official-suite.sh
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SUITE_VERSION=0.3.6
# Pinned so a new vitest release cannot change what runs; the suite asks for ^4.
VITEST_VERSION=4.1.12

usage() {
  cat <<EOF
usage: scripts/official-suite.sh URL [--subscriptions] [--expectations FILE] [--out DIR] [-- VITEST_ARGS...]

Installs @durable-streams/server-conformance-tests@$SUITE_VERSION and vitest
$VITEST_VERSION into \$DS_CACHE_DIR/official-$SUITE_VERSION (default cache dir:
~/.cache/ds-conformance; reused once installed), runs the suite against URL and
compares the failed cases with the expectations file.

  URL                  the server's root, e.g. http://127.0.0.1:4437 (the suite
                       itself puts its streams under URL/v1/stream/...)
  --expectations FILE  expected failures, one case name per line followed by
                       " # reason" (default: fixtures/expectations/official-suite.txt;
                       blank lines and lines starting with # are ignored).
                       A case name is its describe blocks and title joined by
                       " > ", as vitest prints it.
  --out DIR            keep vitest.log, results.json, failed.txt and cases.txt
                       here (default: a new temporary directory)
  -- VITEST_ARGS       passed to vitest, e.g. -- -t 'SSE Mode'

The opt-in subscription cases (spec §6/§7) run only with --subscriptions
(the target must accept http://127.0.0.1 webhook URLs, e.g. ds-server
--webhooks --allow-local-webhooks); otherwise vitest lists them as skipped.

Exit status: 0 when every failure is expected; 1 on an unexpected failure or an
unexpected pass (an expected failure that passed); 2 on a usage or setup error.

Environment: LONG_POLL_TIMEOUT_MS (target's long-poll timeout, default 500),
DS_CACHE_DIR, DS_OFFICIAL_TIMEOUT_S (whole-run limit, default 1800).
EOF
}

url=""
expectations="$repo_root/fixtures/expectations/official-suite.txt"
out_dir=""
vitest_args=()
subscriptions=0
while (($#)); do
  case "$1" in
    --subscriptions) subscriptions=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --expectations) (($# >= 2)) || die "--expectations needs a FILE"; expectations="$2"; shift 2 ;;
    --expectations=*) expectations="${1#*=}"; shift ;;
    --out) (($# >= 2)) || die "--out needs a DIR"; out_dir="$2"; shift 2 ;;
    --out=*) out_dir="${1#*=}"; shift ;;
    --) shift; vitest_args=("$@"); break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [[ -z "$url" ]] || die "more than one URL given"; url="$1"; shift ;;
  esac
done
[[ -n "$url" ]] || { usage >&2; exit 2; }
[[ "$url" =~ ^https?://[^/]+ ]] || die "URL must start with http:// or https://: $url"
if [[ ! -f "$expectations" ]]; then
  log "no expectations file at $expectations: every failure is unexpected"
  expectations=""
fi
need node npm python3

dir="$DS_CACHE_DIR/official-$SUITE_VERSION"
npm_install_cached "$dir" "server-conformance-tests@$SUITE_VERSION vitest@$VITEST_VERSION" "$(cat <<EOF
{
  "name": "ds-official-suite-$SUITE_VERSION",
  "private": true,
  "type": "module",
  "dependencies": {
    "@durable-streams/server-conformance-tests": "$SUITE_VERSION",
    "vitest": "$VITEST_VERSION"
  }
}
EOF
)"

# The entry must sit beside node_modules for its import to resolve; vitest's
# default include pattern picks up *.test.mjs.
cp "$script_dir/node/official.test.mjs" "$dir/official.test.$$.tmp"
mv -f "$dir/official.test.$$.tmp" "$dir/official.test.mjs"

if [[ -z "$out_dir" ]]; then
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/official-suite.XXXXXX")"
fi
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
rm -f "$out_dir/results.json"

long_poll="${LONG_POLL_TIMEOUT_MS:-500}"
[[ "$long_poll" =~ ^[0-9]+$ ]] || die "LONG_POLL_TIMEOUT_MS must be a number of milliseconds"
log "running official suite $SUITE_VERSION against $url (long-poll timeout ${long_poll} ms)"
log "full vitest output: $out_dir/vitest.log"

set +e
(
  cd "$dir"
  DS_OFFICIAL_BASE_URL="$url" DS_OFFICIAL_SUBSCRIPTIONS="$subscriptions" LONG_POLL_TIMEOUT_MS="$long_poll" NO_COLOR=1 FORCE_COLOR=0 CI=true \
    timeout --kill-after=10 "${DS_OFFICIAL_TIMEOUT_S:-1800}" \
    ./node_modules/.bin/vitest run official.test.mjs \
      --root "$dir" --no-coverage --passWithNoTests=false --watch=false \
      --reporter=default --reporter=json --outputFile.json="$out_dir/results.json" \
      "${vitest_args[@]}"
) </dev/null >"$out_dir/vitest.log" 2>&1
vitest_status=$?
set -e

sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$out_dir/vitest.log" \
  | grep -E '^[[:space:]]*(Test Files|Tests|Start at|Duration)[[:space:]]' || true

if [[ ! -s "$out_dir/results.json" ]]; then
  log "vitest exited with status $vitest_status and wrote no JSON report; last lines of its output:"
  tail -n 40 "$out_dir/vitest.log" >&2
  echo "VERDICT: ERROR (the official suite did not produce results)"
  exit 2
fi

set +e
python3 "$script_dir/lib/official-compare.py" "$out_dir/results.json" "$expectations" "$out_dir"
verdict=$?
set -e
log "results: $out_dir (failed.txt lists every failed case with its assertion message)"
exit "$verdict"
