#!/usr/bin/env bash
# Rewrites fixtures/bite-coverage.txt: runs the bite tests (conformance/tests/bite/)
# with DS_BITE_LOG set, so every failure a bite test asserts is recorded as
# `case<TAB>requirement`; `ds-conformance --coverage` then lists the cases that
# no bite test proves able to fail.
#   scripts/bite-coverage.sh            rewrite the file
#   scripts/bite-coverage.sh --check    exit 1 if the file is not current
#   scripts/bite-coverage.sh --check-log LOG
#       no test run: exit 1 unless every case the file names was made to fail
#       in LOG (a DS_BITE_LOG written by an earlier `cargo test`, as in .ci/run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=fixtures/bite-coverage.txt
if [[ "${1:-}" == "--check-log" ]]; then
  [[ -s "${2:-}" ]] || { echo "bite-coverage: no bite log at '${2:-}'" >&2; exit 2; }
  missing="$(comm -23 <(grep -v '^#' "$out" | cut -f1 | sort -u) <(cut -f1 "$2" | sort -u))"
  if [[ -n "$missing" ]]; then
    printf 'bite-coverage: %s names cases no bite test made fail in this run:\n%s\n' "$out" "$missing" >&2
    exit 1
  fi
  echo "bite-coverage: every case in $out was made to fail by a bite test in this run"
  exit 0
fi
log="$(mktemp "${TMPDIR:-/tmp}/ds-bites.XXXXXX")"
trap 'rm -f "$log"' EXIT
DS_BITE_LOG="$log" cargo test -q -p ds-conformance --test bite >&2
new="$(mktemp "${TMPDIR:-/tmp}/ds-bites-new.XXXXXX")"
{
  echo "# case<TAB>requirement it failed on against a broken server; written by scripts/bite-coverage.sh"
  cut -f1,2 "$log" | sort -u
} >"$new"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$out" "$new"; then
    echo "bite-coverage: $out is not current; run scripts/bite-coverage.sh" >&2
    rm -f "$new"
    exit 1
  fi
  rm -f "$new"
  echo "bite-coverage: $out is current ($(grep -vc '^#' "$out") pairs)"
else
  mv "$new" "$out"
  echo "bite-coverage: wrote $out ($(grep -vc '^#' "$out") pairs, $(grep -v '^#' "$out" | cut -f1 | sort -u | wc -l) cases)"
fi
