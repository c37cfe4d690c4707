#!/usr/bin/env python3
"""Compare a vitest JSON report of the official suite with an expectations file.

usage: official-compare.py RESULTS_JSON EXPECTATIONS_FILE OUT_DIR

A case is named by its describe blocks and title joined with " > ", e.g.
"SSE Mode > base64 SSE catch-up pairs every data event with a control event".

Expectations file: one case name per line, then " # reason"; blank lines and
lines starting with "#" are ignored. (Case names of the suite contain no "#".)

Writes OUT_DIR/failed.txt (every failed case, in expectations-file format with
the assertion message as the reason) and OUT_DIR/cases.txt (every case with its
status, grouped by describe block). Exits 0 when the failures are exactly the
expected ones, 1 on an unexpected failure or an unexpected pass, 2 when the
report is unusable.
"""

import json
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def case_name(assertion):
    return " > ".join([*assertion.get("ancestorTitles", []), assertion["title"]])


def first_message(assertion):
    for message in assertion.get("failureMessages") or []:
        for line in ANSI.sub("", message).splitlines():
            line = line.strip()
            if line:
                return line
    return "(no failure message)"


def load_expectations(path):
    expected = {}
    if not path:
        return expected
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, reason = line.partition(" # ")
            name = name.strip()
            if not sep or not reason.strip():
                print(f"warning: {path}:{number}: no ' # reason' for: {name}")
            if name in expected:
                print(f"warning: {path}:{number}: duplicate entry: {name}")
            expected[name] = reason.strip()
    return expected


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    results_path, expectations_path, out_dir = sys.argv[1:]
    try:
        with open(results_path, encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError) as err:
        print(f"error: cannot read vitest report {results_path}: {err}")
        return 2

    statuses = {}
    messages = {}
    groups = {}
    for file_result in report.get("testResults", []):
        if file_result.get("status") == "failed" and not file_result.get("assertionResults"):
            print(f"error: test file failed to load: {ANSI.sub('', file_result.get('message', ''))}")
            return 2
        for assertion in file_result.get("assertionResults", []):
            name = case_name(assertion)
            status = assertion.get("status", "unknown")
            statuses[name] = status
            groups.setdefault(" > ".join(assertion.get("ancestorTitles", [])), []).append(
                (status, assertion["title"])
            )
            if status == "failed":
                messages[name] = first_message(assertion)

    ran = [n for n, s in statuses.items() if s in ("passed", "failed")]
    passed = [n for n, s in statuses.items() if s == "passed"]
    failed = [n for n, s in statuses.items() if s == "failed"]
    not_run = [n for n, s in statuses.items() if s not in ("passed", "failed")]
    if not ran:
        print("error: the vitest report contains no executed case")
        return 2

    expected = load_expectations(expectations_path)
    expected_failures = [n for n in failed if n in expected]
    unexpected_failures = [n for n in failed if n not in expected]
    unexpected_passes = [n for n in passed if n in expected]
    stale = [n for n in expected if n not in statuses]
    expected_not_run = [n for n in expected if n in statuses and statuses[n] not in ("passed", "failed")]

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "failed.txt"), "w", encoding="utf-8") as f:
        for name in failed:
            f.write(f"{name} # {messages[name]}\n")
    with open(os.path.join(out_dir, "cases.txt"), "w", encoding="utf-8") as f:
        for group, cases in groups.items():
            f.write(f"{group} ({len(cases)})\n")
            for status, title in cases:
                f.write(f"  [{status}] {title}\n")

    print(
        f"official suite: {len(ran)} cases ran, {len(passed)} passed, {len(failed)} failed "
        f"({len(expected_failures)} expected, {len(unexpected_failures)} unexpected), "
        f"{len(not_run)} not run (opt-in or filtered)"
    )
    if unexpected_failures:
        print(f"\nUNEXPECTED FAILURES ({len(unexpected_failures)}):")
        for name in unexpected_failures:
            print(f"  {name}\n      {messages[name]}")
    if unexpected_passes:
        print(f"\nUNEXPECTED PASSES ({len(unexpected_passes)}) - remove them from {expectations_path}:")
        for name in unexpected_passes:
            print(f"  {name}")
    if expected_failures:
        print(f"\nexpected failures ({len(expected_failures)}):")
        for name in expected_failures:
            print(f"  {name}  # {expected[name]}")
    for name in stale:
        print(f"warning: expectation names no case of the suite: {name}")
    for name in expected_not_run:
        print(f"warning: expected failure was not run: {name}")

    if unexpected_failures or unexpected_passes:
        print(
            f"\nVERDICT: FAIL ({len(unexpected_failures)} unexpected failures, "
            f"{len(unexpected_passes)} unexpected passes)"
        )
        return 1
    print(f"\nVERDICT: PASS (all failures expected: {len(expected_failures)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
