#!/usr/bin/python3
"""tools.py - the peer scripts' arithmetic, in one place.

  tools.py percentiles PREFIX
      Latency percentiles (p50 p99 p999, microseconds, one line) of every
      transaction in the pgbench per-transaction logs PREFIX.*.
  tools.py figures VALUES.tsv OUT.json SCENARIO
      Turn lines "key<TAB>label<TAB>unit<TAB>value" (one per repeat) into
      the JSON that bookd-bench writes: median, min and max per key, plus
      the machine line and the date.
  tools.py ratios --bookd B.json [--redis R.json] [--pg P.json]
                  --results RESULTS.md --commands "..."
      Write the ratio tables (bookd / peer, each figure) and the peer
      targets between the markers in RESULTS.md, keeping the rest of it.

Everything it reads is the harness's own output; a missing figure shows as
"-" and a missing file is an error.
"""
import glob
import json
import os
import statistics
import sys
import time

BEGIN = "<!-- bench-peers:begin (written by bench/peers/run.sh) -->"
END = "<!-- bench-peers:end -->"


def percentiles(prefix):
    lat = []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    if not lat:
        sys.exit("tools.py: no pgbench log lines under %s.*" % prefix)
    lat.sort()

    def q(p):
        # Nearest rank, as bookd-bench computes its percentiles.
        k = max(1, min(len(lat), int(p * len(lat) + 0.999999)))
        return lat[k - 1]

    print(q(0.50), q(0.99), q(0.999))


def machine_line():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    u = os.uname()
    return "machine: %s, %d cores, %s %s; load %s at end" % (
        cpu, os.cpu_count(), u.sysname, u.release, load)


def figures(tsv, out, scenario):
    order, vals = [], {}
    with open(tsv) as f:
        for line in f:
            key, label, unit, value = line.rstrip("\n").split("\t")
            if key not in vals:
                order.append(key)
                vals[key] = (label, unit, [])
            vals[key][2].append(float(value))
    figs = []
    for key in order:
        label, unit, v = vals[key]
        figs.append({"scenario": scenario, "key": key, "label": label,
                     "unit": unit, "median": statistics.median(v),
                     "min": min(v), "max": max(v), "repeats": len(v)})
    doc = {"machine": {"line": machine_line()},
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "command": " ".join(sys.argv), "figures": figs, "notes": []}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def load(path):
    if path is None:
        return {}
    with open(path) as f:
        doc = json.load(f)
    return doc


def fig(doc, key):
    for g in doc.get("figures", []):
        if g["key"] == key:
            return g["median"]
    return None


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e4:
        return "%.3gk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    return "%.3g" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# (label, unit, bookd key, redis key, postgres key).  Throughputs: higher is
# better, so bookd / peer > 1 favours bookd; latencies: lower is better.
ROWS = [
    ("durable bookings/s, 1 client", "/s", "book.sync.c1.per_s",
     "redis.book.c1.per_s", "pg.book.c1.per_s"),
    ("durable bookings/s, 8 clients", "/s", "book.sync.c8.per_s",
     "redis.book.c8.per_s", "pg.book.c8.per_s"),
    ("durable bookings/s, 32 clients", "/s", "book.sync.c32.per_s",
     "redis.book.c32.per_s", "pg.book.c32.per_s"),
    ("durable bookings/s, 128 clients", "/s", "book.sync.c128.per_s",
     "redis.book.c128.per_s", None),
    ("booking p50, 1 client", "us", "book.sync.c1.p50_us",
     "redis.book.c1.p50_us", "pg.book.c1.p50_us"),
    ("booking p99, 1 client", "us", "book.sync.c1.p99_us",
     "redis.book.c1.p99_us", "pg.book.c1.p99_us"),
    ("booking p50, 32 clients", "us", "book.sync.c32.p50_us",
     "redis.book.c32.p50_us", "pg.book.c32.p50_us"),
    ("booking p99, 32 clients", "us", "book.sync.c32.p99_us",
     "redis.book.c32.p99_us", "pg.book.c32.p99_us"),
    ("booking p999, 32 clients", "us", "book.sync.c32.p999_us",
     "redis.book.c32.p999_us", "pg.book.c32.p999_us"),
    ("conflicts, 32 clients", "%", "book.sync.c32.conflict_pct",
     "redis.book.c32.conflict_pct", "pg.book.c32.conflict_pct"),
    ("availability, 1 client: bookd reader vs peer query", "/s",
     "read-mmap.per_s", "redis.check.c1.per_s", "pg.check.c1.per_s"),
    ("availability, 1 client over the socket (bookd: libbookd)", "/s",
     "read-socket.sync.per_s", "redis.check.c1.per_s",
     "pg.check.c1.per_s"),
    ("availability, 1 client over the socket (thin clients both)", "/s",
     "read-socket.thin.sync.per_s", "redis.check.c1.per_s", None),
    ("availability, 8 conns x 32 in flight (bookd: libbookd)", "/s",
     "read-socket.pipe.per_s", "redis.check.pipe.per_s", None),
    ("availability, 8 conns x 32 in flight (thin clients both)", "/s",
     "read-socket.thin.pipe.per_s", "redis.check.pipe.per_s", None),
    ("server CPU per check, 1 x 1 (thin clients both)", "us",
     "read-socket.thin.sync.cpu_us", "redis.check.c1.cpu_us", None),
    ("server CPU per check, 8 x 32 (thin clients both)", "us",
     "read-socket.thin.pipe.cpu_us", "redis.check.pipe.cpu_us", None),
    ("server CPU per durable booking, 8 clients", "us",
     "book.sync.c8.cpu_us", "redis.book.c8.cpu_us", None),
    ("server CPU per durable booking, 32 clients", "us",
     "book.sync.c32.cpu_us", "redis.book.c32.cpu_us", None),
    ("with past bookings: durable bookings/s, 32 clients", "/s",
     "book.sync.c32.per_s", None, "pg.past.book.c32.per_s"),
    ("with past bookings: availability, 1 client, reader", "/s",
     "history.past.read-mmap.per_s", None, "pg.past.check.c1.per_s"),
    ("with past bookings: availability, 1 client, socket", "/s",
     "history.past.read-socket.sync.per_s", None,
     "pg.past.check.c1.per_s"),
]

# (what, bookd key, peer doc name, peer key, bound, sense): the ratio
# bookd / peer must be at least the bound (">=", throughputs) or at most it
# ("<=", costs).  Both sides of a ratio are taken at the same client count
# and the same pipelining depth.
TARGETS = [
    ("durable bookings/s at 32 clients >= 2x Redis (goal 3x)",
     "book.sync.c32.per_s", "redis", "redis.book.c32.per_s", 2.0, ">="),
    ("durable bookings/s at 8 clients >= 1.5x Redis", "book.sync.c8.per_s",
     "redis", "redis.book.c8.per_s", 1.5, ">="),
    ("engine CPU per durable booking at 8 clients <= 0.5x redis-server's",
     "book.sync.c8.cpu_us", "redis", "redis.book.c8.cpu_us", 0.5, "<="),
    ("engine CPU per durable booking at 32 clients <= 0.5x redis-server's",
     "book.sync.c32.cpu_us", "redis", "redis.book.c32.cpu_us", 0.5, "<="),
    ("durable bookings/s at 32 clients >= 8x PostgreSQL",
     "book.sync.c32.per_s", "pg", "pg.book.c32.per_s", 8.0, ">="),
    ("reader availability >= 1000x Redis GETRANGE, 1 client",
     "read-mmap.per_s", "redis", "redis.check.c1.per_s", 1000.0, ">="),
    ("socket checks, 1 connection x 1 >= 1.5x Redis GETRANGE at 1 x 1",
     "read-socket.thin.sync.per_s", "redis", "redis.check.c1.per_s", 1.5,
     ">="),
    ("socket checks, 8 connections x 32 >= 1.5x Redis GETRANGE at 8 x 32",
     "read-socket.thin.pipe.per_s", "redis", "redis.check.pipe.per_s", 1.5,
     ">="),
]


def ratios(args):
    opts = {}
    i = 0
    while i < len(args):
        opts[args[i].lstrip("-")] = args[i + 1]
        i += 2
    bk = load(opts["bookd"])
    peers = {"redis": load(opts.get("redis")), "pg": load(opts.get("pg"))}
    out = [BEGIN, "", "## Side by side: bookd / peer (generated)", ""]
    out.append("Date: %s  " % bk.get("date", "?"))
    out.append("%s  " % bk.get("machine", {}).get("line", "?"))
    for name in ("redis", "pg"):
        if peers[name]:
            out.append("%s run: %s  " % (
                name, peers[name].get("machine", {}).get("line", "?")))
    out.append("")
    out.append("Commands:")
    out.append("")
    out.append("```")
    out.extend(opts.get("commands", "").split("\\n"))
    out.append("```")
    out.append("")
    out.append("Throughputs: a ratio above 1 favours bookd.  Latencies "
               "(us): a ratio below 1 favours bookd.")
    out.append("")
    out.append("| figure | unit | bookd | Redis | bookd / Redis | "
               "PostgreSQL | bookd / PostgreSQL |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, unit, kb, kr, kp in ROWS:
        b = fig(bk, kb)
        r = fig(peers["redis"], kr) if kr else None
        p = fig(peers["pg"], kp) if kp else None
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            label, unit, fmt(b), fmt(r), fmt(ratio(b, r)), fmt(p),
            fmt(ratio(b, p))))
    out.append("")
    out.append("| target (peers) | ratio | met |")
    out.append("| --- | ---: | --- |")
    for what, kb, peer, kp, bound, sense in TARGETS:
        x = ratio(fig(bk, kb), fig(peers[peer], kp))
        if x is None:
            met = "-"
        elif (x >= bound) if sense == ">=" else (x <= bound):
            met = "yes"
        elif sense == ">=":
            met = "**no** (%.0f%% of the target)" % (100 * x / bound)
        else:
            met = "**no** (%.1fx the bound)" % (x / bound)
        out.append("| %s | %s | %s |" % (what, fmt(x), met))
    p99 = fig(bk, "book.sync.c32.p99_us")
    out.append("| booking p99 at 32 clients < 2000 us | %s us | %s |" % (
        fmt(p99), "-" if p99 is None else ("yes" if p99 < 2000 else
                                           "**no**")))
    out.append("")
    out.append(END)
    block = "\n".join(out) + "\n"

    path = opts["results"]
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text + ("\n" if text else "") + block
    with open(path, "w") as f:
        f.write(text)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "percentiles" and len(args) == 1:
        percentiles(args[0])
    elif cmd == "figures" and len(args) == 3:
        figures(*args)
    elif cmd == "ratios":
        ratios(args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
