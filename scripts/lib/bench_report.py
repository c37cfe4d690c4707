#!/usr/bin/env python3
"""Summary of a scripts/bench.sh session: reads the ds-bench JSON results
(NAME.LABEL.json) in the given directory, prints the figures per target and
issue 18's ratios with met / MISSED. A ratio whose runs did not verify their
own results is marked UNVERIFIED instead. Usage: bench_report.py DIR"""
import json
import os
import sys

d = sys.argv[1]
runs = {}
for f in sorted(os.listdir(d)):
    if f.endswith(".json") and f.count(".") == 2:
        name, label, _ = f.split(".")
        try:
            with open(os.path.join(d, f)) as fh:
                runs[(name, label)] = json.load(fh)
        except (OSError, ValueError):
            pass


def fig(name, label, *path):
    r = runs.get((name, label))
    if r is None:
        return None
    v = r["figures"]
    for p in path:
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v


def ok(*keys):
    if not keys:
        return True
    return all(runs.get(k, {}).get("verified") for k in keys)


targets = [t for t in ["ceiling", "floor", "ds-mem", "ds-file", "node-mem", "node-file", "rust-mem", "rust-wal"]
           if any(k[0] == t for k in runs)]


def num(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


rows = [
    ("appends/s, 1 stream, 32 conns", lambda t: num(fig(t, "append1", "appends_per_s")), "append1"),
    ("appends/s, 10k streams", lambda t: num(fig(t, "append10k", "appends_per_s")), "append10k"),
    ("appends/s, 100k streams", lambda t: num(fig(t, "append100k", "appends_per_s")), "append100k"),
    ("appends/s, producer headers", lambda t: num(fig(t, "producer", "appends_per_s")), "producer"),
    ("appends/s, JSON", lambda t: num(fig(t, "json", "appends_per_s")), "json"),
    ("append p99 ms at 5000/s fixed", lambda t: num(fig(t, "rate", "latency", "p99_us"), "{:,.0f}") if fig(t, "rate", "latency", "p99_us") is None else f"{fig(t, 'rate', 'latency', 'p99_us') / 1000:.1f}", "rate"),
    ("append p99 ms closed-loop, 1 stream", lambda t: "-" if fig(t, "append1", "latency", "p99_us") is None else f"{fig(t, 'append1', 'latency', 'p99_us') / 1000:.1f}", "append1"),
    ("requests/s, 404 / no-op GET", lambda t: num(fig(t, "ceiling404", "requests_per_s") or fig(t, "noop", "requests_per_s")), None),
    ("requests/s, no-op POST 64 B (append-shaped)", lambda t: num(fig(t, "noop-post", "requests_per_s")), None),
    ("catch-up MB/s", lambda t: num(fig(t, "catchup", "mb_per_s"), "{:,.1f}"), "catchup"),
    ("SSE delivery p99 ms (fan-out, 1 stream)", lambda t: "-" if fig(t, "fanout1", "sse_delivery", "p99_us") is None else f"{fig(t, 'fanout1', 'sse_delivery', 'p99_us') / 1000:.1f}", "fanout1"),
    ("long-poll delivery p99 ms (1 stream)", lambda t: "-" if fig(t, "fanout1", "long_poll_delivery", "p99_us") is None else f"{fig(t, 'fanout1', 'long_poll_delivery', 'p99_us') / 1000:.1f}", "fanout1"),
    ("readers per kind in that fan-out", lambda t: num(fig(t, "fanout1", "params", "sse")), "fanout1"),
    ("pacing of that fan-out", lambda t: fig(t, "fanout1", "pace") or "-", "fanout1"),
    ("target CPU µs per append (1 stream)", lambda t: num(fig(t, "append1", "target_cpu_us_per_append"), "{:,.1f}"), "append1"),
    ("target CPU µs per request (404 / no-op GET)", lambda t: num(fig(t, "ceiling404", "target_cpu_us_per_request") or fig(t, "noop", "target_cpu_us_per_request"), "{:,.1f}"), None),
    ("target CPU µs per no-op POST 64 B", lambda t: num(fig(t, "noop-post", "target_cpu_us_per_request"), "{:,.1f}"), None),
]
print()
for f in ("load.start", "load.end"):
    p = os.path.join(d, f)
    if os.path.exists(p):
        print(f"machine {f.split('.')[1]}: {open(p).read().strip()}")
w = 42
print(f"\n{'figure':<{w}}" + "".join(f"{t:>12}" for t in targets))
for title, get, label in rows:
    cells = []
    for t in targets:
        v = get(t)
        if label and v != "-" and not ok((t, label)):
            v += "!"
        cells.append(f"{v:>12}")
    print(f"{title:<{w}}" + "".join(cells))
print("(! = that run did not verify its own results; '-' = not run)")

print("\nissue 18 targets for ds-server (ratios from this session):")


def line(what, value, limit, higher_better, keys, shown=None, judged=True):
    """One ratio against its target. `judged=False`: a diagnostic view of a
    target (e.g. in CPU time), printed with the limit for comparison but
    without a met/missed verdict: only the throughput figures are judged."""
    if value is None:
        print(f"  {what:<62} {'n/a':>8}   (not measured)")
        return
    cmp = ">=" if higher_better else "<="
    if not judged:
        note = "" if ok(*keys) else " UNVERIFIED"
        print(f"  {what:<62} {shown or f'{value:.2f}':>8}   (information; the target's {cmp} {limit}){note}")
        return
    met = value >= limit if higher_better else value <= limit
    verdict = ("met" if met else "MISSED") if ok(*keys) else "UNVERIFIED"
    print(f"  {what:<62} {shown or f'{value:.2f}':>8}   (target {cmp} {limit}) {verdict}")


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


# The append target is taken against the append-shaped ceiling (no-op POST
# of 64 bytes, body read); the GET ceiling is shown beside it.
ceil = fig("ceiling", "noop-post", "requests_per_s")
ceil_get = fig("ceiling", "noop", "requests_per_s")
# The same comparisons in the target's CPU time per operation (--pid): on a
# shared machine the throughput ratios move with the other load; these barely.
cpu_ceil = fig("ceiling", "noop-post", "target_cpu_us_per_request")
cpu_ceil_get = fig("ceiling", "noop", "target_cpu_us_per_request")
cpu_mem = fig("ds-mem", "append1", "target_cpu_us_per_append")
line("CPU: no-op POST 64 B / memory append (µs per op, inverse)", ratio(cpu_ceil, cpu_mem), 0.8, True,
     [("ds-mem", "append1"), ("ceiling", "noop-post")], judged=False)
line("CPU: no-op GET / memory append (µs per op, inverse)", ratio(cpu_ceil_get, cpu_mem), 0.8, True,
     [("ds-mem", "append1"), ("ceiling", "noop")], judged=False)
line("CPU: one-stream append / 10k-stream append (ds-mem)", ratio(cpu_mem, fig("ds-mem", "append10k", "target_cpu_us_per_append")), 0.8, True,
     [("ds-mem", "append1"), ("ds-mem", "append10k")], judged=False)
line("memory appends / append-shaped ceiling (no-op POST 64 B)", ratio(fig("ds-mem", "append1", "appends_per_s"), ceil), 0.8, True,
     [("ds-mem", "append1"), ("ceiling", "noop-post")])
line("memory appends / GET ceiling (no-op GET, no body)", ratio(fig("ds-mem", "append1", "appends_per_s"), ceil_get), 0.8, True,
     [("ds-mem", "append1"), ("ceiling", "noop")])
line("memory appends / ds-server's own 404 path", ratio(fig("ds-mem", "append1", "appends_per_s"), fig("ds-mem", "ceiling404", "requests_per_s")), 0.8, True,
     [("ds-mem", "append1"), ("ds-mem", "ceiling404")])
line("durable appends / memory appends", ratio(fig("ds-file", "append1", "appends_per_s"), fig("ds-mem", "append1", "appends_per_s")), 0.5, True,
     [("ds-file", "append1"), ("ds-mem", "append1")])
# Not a target: the same ratio with more appends in flight, to show whether
# durable appends are held back by the sync's latency (the ratio grows with
# connections) or by CPU (it stays put).
conc = []
for label, conns in (("append1", 32), ("append1c64", 64), ("append1c128", 128)):
    v = ratio(fig("ds-file", label, "appends_per_s"), fig("ds-mem", label, "appends_per_s"))
    if v is not None:
        mark = "" if ok(("ds-file", label), ("ds-mem", label)) else "!"
        conc.append(f"{conns} connections {v:.2f}{mark} ({num(fig('ds-file', label, 'appends_per_s'))}/s)")
if len(conc) > 1:
    print("  (information) durable / memory appends, 1 stream, by connections: " + ", ".join(conc))
for s in ("ds-mem", "ds-file"):
    line(f"{s}: appends over 10k streams / one stream", ratio(fig(s, "append10k", "appends_per_s"), fig(s, "append1", "appends_per_s")), 0.8, True,
         [(s, "append10k"), (s, "append1")])
peers = [(t, fig(t, "catchup", "mb_per_s")) for t in targets if not t.startswith(("ds-", "ceiling"))]
peers = [(t, v) for t, v in peers if v is not None and ok((t, "catchup"))]
if peers:
    best = max(peers, key=lambda p: p[1])
    for s in ("ds-mem", "ds-file"):
        line(f"{s}: catch-up MB/s / fastest peer ({best[0]})", ratio(fig(s, "catchup", "mb_per_s"), best[1]), 1.0, True,
             [(s, "catchup"), (best[0], "catchup")])
else:
    line("catch-up MB/s / fastest peer", None, 1.0, True, [])
for s in ("ds-mem", "ds-file"):
    tr = runs.get((s, "tail"), {}).get("figures", {})
    key = next((k for k in tr if k.startswith("tail_ratio_")), None)
    if key:
        long = key.split("_")[2]
        line(f"{s}: tail read {long} / 1000 messages (p50)", tr[key]["p50"], 1.2, False, [(s, "tail")],
             f"{tr[key]['p50']:.2f}")
        line(f"{s}: tail read {long} / 1000 messages (mean)", tr[key]["mean"], 1.2, False, [(s, "tail")])
    else:
        line(f"{s}: tail read long / short", None, 1.2, False, [])
    fr = fig(s, "fork", "ratio_depth_100_vs_1")
    if fr:
        line(f"{s}: fork depth 100 / depth 1, tail read (mean)", fr["tail_read_mean"], 2.0, False, [(s, "fork")])
        line(f"{s}: fork depth 100 / depth 1, catch-up per byte", fr["catchup_per_byte"], 2.0, False, [(s, "fork")])
    else:
        line(f"{s}: fork depth 100 / depth 1", None, 2.0, False, [])
def p99_ms(name, label, kind):
    s = fig(name, label, f"{kind}_delivery")
    return None if s is None else s["p99_us"] / 1000


for label, what in (("fanout1", "one stream"), ("fanout1000", "1,000 streams")):
    n = fig("ds-mem", label, "params", "sse") or 0
    pace = fig("ds-mem", label, "pace") or "?"
    for kind in ("long_poll", "sse"):
        v = p99_ms("ds-mem", label, kind)
        line(f"fan-out {n:,} {kind.replace('_', '-')} ({what}, {pace}): p99 ms", v, 100, False, [("ds-mem", label)],
             None if v is None else f"{v:.1f}")
        # Beside it the floor at the same size (the fanout_floor example: no
        # store, the same HTTP stack): what any server here would need.
        f = p99_ms("floor", label, kind)
        if f is not None and fig("floor", label, "params", "sse") == n:
            r = ratio(v, f)
            print(f"    floor (no store, not a Durable Streams server): p99 {f:.1f} ms"
                  + ("" if r is None else f"; ds-mem / floor = {r:.2f}x")
                  + ("" if ok(("floor", label)) else " (floor run UNVERIFIED)"))
for kind in ("long_poll", "sse"):
    v = p99_ms("ds-mem", "fanout1-fixed", kind)
    if v is not None:
        every = fig("ds-mem", "fanout1-fixed", "params", "interval_ms")
        n = fig("ds-mem", "fanout1-fixed", "params", "sse") or 0
        print(f"  saturation (fixed schedule, one append every {every} ms, not the target's measure): "
              f"{n:,} {kind.replace('_', '-')} p99 {v:.1f} ms"
              + ("" if ok(("ds-mem", "fanout1-fixed")) else " UNVERIFIED"))
v = fig("ds-mem", "fanout1", "rss_per_idle_sse_bytes")
# Measured while the readers sit idle, before any delivery: valid whatever
# the delivery checks later found, as long as the run produced it.
line("memory per idle SSE connection, KiB", None if v is None else v / 1024, 64, False, [])
v = fig("ds-mem", "append100k", "rss_per_stream_bytes")
line("memory per idle stream (100k created), KiB", None if v is None else v / 1024, 2, False, [("ds-mem", "append100k")])
v = fig("ds-mem", "rss", "rss_growth_per_payload_byte")
line("memory store RSS growth / payload bytes (64-byte appends)", v, 1.5, False, [("ds-mem", "rss")])
for label, what in (("churn", "compaction on"), ("churn-nocompact", "compaction held off")):
    c = runs.get(("ds-file", label), {}).get("figures", {})
    s = c.get("samples", []) if c else []
    if not s:
        continue
    first, mid, last = s[1] if len(s) > 1 else s[0], s[len(s) // 2], s[-1]
    mb = lambda b: "-" if b is None else f"{b / 1048576:.1f}"
    print(f"  churn against --data-dir ({what}): disk MiB {mb(first['disk_bytes'])} -> {mb(mid['disk_bytes'])} -> {mb(last['disk_bytes'])}, "
          f"RSS MiB {mb((first['rss_kib'] or 0) * 1024)} -> {mb((mid['rss_kib'] or 0) * 1024)} -> {mb((last['rss_kib'] or 0) * 1024)} "
          f"(after {s[1]['t']:.0f} s, half, end); {c.get('cycles_per_s', 0):.0f} cycles/s; "
          f"{'verified' if ok(('ds-file', label)) else 'UNVERIFIED'}")
    # Levels off: the second half never goes much above the first half's
    # peak (compaction makes disk a saw-tooth; without it, it keeps growing).
    half = len(s) // 2
    for key, name in (("disk_bytes", "disk"), ("rss_kib", "RSS")):
        a = [x[key] for x in s[1:half + 1] if x[key] is not None]
        b = [x[key] for x in s[half + 1:] if x[key] is not None]
        if not a or not b:
            continue
        r = max(b) / max(max(a), 1)
        verdict = "levels off" if r <= 1.25 else "does NOT level off"
        if label == "churn":
            verdict += " (met)" if r <= 1.25 else " (MISSED)"
        print(f"    {name}: peak of the second half / peak of the first half = {r:.2f} -> {verdict}")
print("  harness wall/CPU time vs the official suite: not measured by this script")

# ---- alternating rounds (label alt) ------------------------------------------
alt_rounds = sorted({int(k[1].rsplit("-", 1)[1]) for k in runs if k[0] == "alt" and k[1].rsplit("-", 1)[-1].isdigit()})
if alt_rounds:
    import statistics

    base_path = os.path.join(d, "alt.baseline")
    baseline = open(base_path).read().strip() if os.path.exists(base_path) else None
    servers = [("ds-mem", "ds-server")] + ([("ds-base", f"baseline {baseline}")] if baseline else [])
    print("\nalternating rounds (no-op GET, no-op POST 64 B and each ds-server's 1-stream append, in an order"
          " that rotates per round; same connections; ratio per round, median last;"
          " ! = a run of that round did not verify):")
    cols = []
    for s_name, _ in servers:
        cols += [(s_name, "post", "appends_per_s", "requests_per_s", "tput"),
                 (s_name, "get", "appends_per_s", "requests_per_s", "tput"),
                 (s_name, "post", "target_cpu_us_per_append", "target_cpu_us_per_request", "cpu"),
                 (s_name, "get", "target_cpu_us_per_append", "target_cpu_us_per_request", "cpu")]
    for s_name, what in servers:
        print(f"  {s_name} = {what}")
    hdr = ["round", "GET req/s", "POST req/s"] + [f"{s} app/s" for s, _ in servers] + \
          [f"{s}/{c} {k}" for s, c, _, _, k in cols] + [f"{s} CPU µs" for s, _ in servers] + ["POST CPU µs"]
    print("  " + " ".join(f"{h:>16}" for h in hdr))
    per_col = {i: [] for i in range(len(hdr))}
    for r in alt_rounds:
        cells = [str(r)]
        get_rps = fig("alt", f"ceiling-get-{r}", "requests_per_s")
        post_rps = fig("alt", f"ceiling-post-{r}", "requests_per_s")
        cells += [num(get_rps), num(post_rps)]
        for s_name, _ in servers:
            cells.append(num(fig("alt", f"{s_name}-{r}", "appends_per_s")))
        for s_name, shape, akey, ckey, kind in cols:
            a = fig("alt", f"{s_name}-{r}", akey)
            c = fig("alt", f"ceiling-{shape}-{r}", ckey)
            v = ratio(a, c) if kind == "tput" else ratio(c, a)  # CPU: ceiling µs / append µs
            cell = "-" if v is None else f"{v:.2f}"
            if not ok(("alt", f"{s_name}-{r}"), ("alt", f"ceiling-{shape}-{r}")) and cell != "-":
                cell += "!"
            cells.append(cell)
        for s_name, _ in servers:
            cells.append(num(fig("alt", f"{s_name}-{r}", "target_cpu_us_per_append"), "{:.1f}"))
        cells.append(num(fig("alt", f"ceiling-post-{r}", "target_cpu_us_per_request"), "{:.1f}"))
        for i, c in enumerate(cells):
            try:
                per_col[i].append(float(c.rstrip("!").replace(",", "")))
            except ValueError:
                pass
        print("  " + " ".join(f"{c:>16}" for c in cells))
    med = ["median"]
    for i in range(1, len(hdr)):
        v = per_col[i]
        fmt = "{:,.0f}" if "/s" in hdr[i] else ("{:.1f}" if "µs" in hdr[i] else "{:.2f}")
        med.append("-" if not v else fmt.format(statistics.median(v)))
    print("  " + " ".join(f"{c:>16}" for c in med))
    print("  (tput = appends/s ÷ ceiling requests/s; cpu = ceiling CPU µs per request ÷ append CPU µs per append)")
    order_path = os.path.join(d, "alt.order")
    if os.path.exists(order_path):
        for ln in open(order_path).read().splitlines():
            r, _, order = ln.partition(" ")
            print(f"  round {r} order: {order}")
    verified = all(ok(("alt", f"{n}-{r}")) for r in alt_rounds
                   for n in ["ceiling-get", "ceiling-post"] + [s for s, _ in servers])
    tput = [ratio(fig("alt", f"ds-mem-{r}", "appends_per_s"), fig("alt", f"ceiling-post-{r}", "requests_per_s")) for r in alt_rounds]
    tput = [v for v in tput if v is not None]
    if tput:
        line("alternating: memory appends / append-shaped ceiling (median)", statistics.median(tput), 0.8, True,
             [("alt", f"{n}-{r}") for r in alt_rounds for n in ("ceiling-post", "ds-mem")])
    def per_round(num, den):
        """(round, num/den appends per round) for the rounds that have both."""
        pairs = [(r, ratio(fig("alt", f"{num}-{r}", "appends_per_s"), fig("alt", f"{den}-{r}", "appends_per_s")))
                 for r in alt_rounds]
        return [(r, v) for r, v in pairs if v is not None]

    def round_list(pairs, num, den):
        """'1: 0.42, 2: 0.45', a round marked ! when one of its runs did not verify."""
        return ", ".join(f"{r}: {v:.2f}" + ("" if ok(("alt", f"{num}-{r}"), ("alt", f"{den}-{r}")) else "!")
                         for r, v in pairs)

    durable = per_round("ds-file", "ds-mem")
    if durable:
        print("  durable / memory appends per round (ds-file = --data-dir, each ack after fdatasync): "
              + round_list(durable, "ds-file", "ds-mem"))
        line("alternating: durable appends / memory appends (median)", statistics.median([v for _, v in durable]),
             0.5, True, [("alt", f"{n}-{r}") for r, _ in durable for n in ("ds-file", "ds-mem")])
    for num, den, what in [("ds-base-file", "ds-base", "baseline durable / baseline memory appends"),
                           ("ds-file", "ds-base-file", "durable appends / baseline durable appends")]:
        pairs = per_round(num, den)
        if pairs:
            print(f"  {what} per round: " + round_list(pairs, num, den)
                  + f"; median {statistics.median([v for _, v in pairs]):.2f}")
    if not verified:
        print("  some alternating runs did not verify their own results")
