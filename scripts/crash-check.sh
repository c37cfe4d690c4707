#!/usr/bin/env bash
# Crash check of the durable record log (§4 Durability): a writer process is
# SIGKILLed at random moments (default 20 times, local temp directory only),
# unsynced tails are torn as a power cut would, and every acknowledged
# append must come back exactly once, in order, never partial.
# Usage: scripts/crash-check.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p ds-reference-server --example crash_writer
exec target/release/examples/crash_writer --kills "${1:-20}"
