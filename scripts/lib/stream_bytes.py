"""Counts the bytes stored in streams by reading each one from the start
(GET ?offset=-1, following Stream-Next-Offset until Stream-Up-To-Date), so a
benchmark can check that what it counted as acknowledged is really there.
Offsets are treated as opaque. Usage: stream_bytes.py URL [URL...]"""
import sys
import urllib.parse
import urllib.request


def stream_bytes(url):
    total, offset = 0, "-1"
    for _ in range(100000):
        q = urllib.parse.urlencode({"offset": offset})
        with urllib.request.urlopen(f"{url}?{q}", timeout=30) as r:
            total += len(r.read())
            nxt = r.headers.get("Stream-Next-Offset")
            done = (r.headers.get("Stream-Up-To-Date") or "").lower() == "true"
        if done or nxt is None or nxt == offset:
            return total
        offset = nxt
    raise SystemExit(f"{url}: no end after 100000 reads")


print(sum(stream_bytes(u) for u in sys.argv[1:]))
