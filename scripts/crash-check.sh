#!/usr/bin/env bash
# Crash checks of the durable store (§4 Durability), local temp directories
# and 127.0.0.1 only:
#   1. the record log: a writer process is SIGKILLed at random moments,
#      unsynced tails are torn as a power cut would, and every acknowledged
#      append must come back exactly once, in order, never partial;
#   2. ds-server --data-dir over HTTP: the harness's crash:: group
#      (scripts/durability-ds-server.sh with --kill-cmd), KILLS SIGKILLs per
#      case under concurrent plain, Stream-Seq and producer writers, forks,
#      closes and DELETEs, judged by its history checker;
#   3. subscriptions (§6/§7) on ds-server --data-dir: a pull-wake worker
#      claims and acks while streams grow; no acked offset may fall behind
#      one a client was shown, no generation is reused, the key stays.
# Usage: scripts/crash-check.sh [KILLS]   (default 20 kills each)
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-20}"
bin="${CARGO_TARGET_DIR:-target}/release"
cargo build --release -q -p ds-reference-server --bin ds-server \
  --example crash_writer --example subs_crash_check
echo "== record log: $kills kills"
"$bin"/examples/crash_writer --kills "$kills"
echo "== ds-server --data-dir over HTTP: crash:: with $kills rounds"
scripts/durability-ds-server.sh KILL -- crash:: --crash-rounds "$kills"
echo "== subscriptions on ds-server --data-dir: $kills kills"
"$bin"/examples/subs_crash_check --server "$bin"/ds-server --kills "$kills"
