#!/usr/bin/env python3
"""The soak's oracle: compares what the daemons printed with the topic (scripts/soak.sh).

    scripts/soak_report.py OUT RATE DURATION

OUT is a soak's results directory: events/topic.tsv (the whole topic read by kcat with
-f '%p\\t%o\\t%T\\t%k\\t%s\\n', the independent truth), events/daemon-NNN.out (each daemon's
stdout, envelope lines), logs/daemon-NNN.log (each daemon's stderr), first-print (optional:
"DAEMON MS" lines, restart to first printed line) and rss.csv. RATE and DURATION are the run's
--rate and --duration (integers).

Prints the report's events, daemons, worker restarts, warnings and RSS sections and the
verdict on stdout (soak.sh appends them to report.txt). Exit 0 when nothing is missing,
nothing was printed that is not in the topic and every printed event matches its record
(duplicates are reported, not failed); exit 1 otherwise.
"""
import array, collections, datetime, glob, os, re, sys, zlib
from types import SimpleNamespace


def read_topic(ev):
    # The truth: every record in the topic, and a CRC of its timestamp, key and value.
    offs = collections.defaultdict(lambda: array.array("q"))
    ts_min, ts_max = None, None
    crcs = collections.defaultdict(lambda: array.array("I"))
    with open(os.path.join(ev, "topic.tsv"), "rb") as f:
        for line in f:
            p, o, ts, key, value = line.rstrip(b"\n").split(b"\t", 4)
            offs[int(p)].append(int(o))
            t = int(ts)
            if ts_min is None or t < ts_min:
                ts_min = t
            if ts_max is None or t > ts_max:
                ts_max = t
            crcs[int(p)].append(zlib.crc32(ts + b"\t" + key + b"\t" + value))
    ends = {p: max(a) + 1 for p, a in offs.items()}
    present = {p: bytearray(n) for p, n in ends.items()}
    crc = {p: array.array("I", bytes(4 * n)) for p, n in ends.items()}
    for p in offs:
        for o, c in zip(offs[p], crcs[p]):
            present[p][o] = 1
            crc[p][o] = c
    del offs, crcs
    in_topic = sum(sum(b) for b in present.values())
    gaps = sum(len(b) - sum(b) for b in present.values())
    return SimpleNamespace(ends=ends, present=present, crc=crc, ts_min=ts_min, ts_max=ts_max,
                           in_topic=in_topic, gaps=gaps)


def read_printed(ev, topic):
    """Every line every daemon printed, checked against the topic by partition and offset."""
    ends, present, crc = topic.ends, topic.present, topic.crc
    count = {p: bytearray(n) for p, n in ends.items()}        # times printed, capped at 255
    first = {p: array.array("H", bytes(2 * n)) for p, n in ends.items()}  # daemon that printed it first
    rx = re.compile(rb'^\{"topic":"[^"]*","partition":(\d+),"offset":(\d+),"timestamp":(-?\d+),"key":"([^"]*)","event":(\{[^{}]*\})\}$')
    lines = torn = not_in_topic = mismatch = 0
    dup_later = dup_same = 0
    torn_examples, extra_examples, mismatch_examples = [], [], []
    per_daemon = []
    paths = sorted(glob.glob(os.path.join(ev, "daemon-*.out")))
    for path in paths:
        d = int(os.path.basename(path)[7:10])
        n_lines = n_new = n_re = 0
        with open(path, "rb") as f:
            for line in f:
                lines += 1
                n_lines += 1
                m = rx.match(line.rstrip(b"\n"))
                if not m:
                    torn += 1
                    if len(torn_examples) < 3:
                        torn_examples.append("daemon #%d line %d: %r" % (d, n_lines, line[:100]))
                    continue
                p, o = int(m.group(1)), int(m.group(2))
                if p not in present or o >= len(present[p]) or not present[p][o]:
                    not_in_topic += 1
                    if len(extra_examples) < 5:
                        extra_examples.append("partition %d offset %d (daemon #%d)" % (p, o, d))
                    continue
                if zlib.crc32(m.group(3) + b"\t" + m.group(4) + b"\t" + m.group(5)) != crc[p][o]:
                    mismatch += 1
                    if len(mismatch_examples) < 5:
                        mismatch_examples.append("partition %d offset %d (daemon #%d): %r" % (p, o, d, line[:160]))
                c = count[p][o]
                if c == 0:
                    first[p][o] = d
                    n_new += 1
                else:
                    n_re += 1
                    if first[p][o] == d:
                        dup_same += 1
                    else:
                        dup_later += 1
                if c < 255:
                    count[p][o] = c + 1
        per_daemon.append((d, n_lines, n_new, n_re))
    return SimpleNamespace(count=count, lines=lines, torn=torn, not_in_topic=not_in_topic,
                           mismatch=mismatch, dup_later=dup_later, dup_same=dup_same,
                           torn_examples=torn_examples, extra_examples=extra_examples,
                           mismatch_examples=mismatch_examples, per_daemon=per_daemon, paths=paths)


def tally(present, count):
    """Per offset in the topic: never printed (missing), printed once, printed again."""
    printed_unique = duplicated_offsets = max_times = 0
    missing = []
    for p in sorted(present):
        pr, cn = present[p], count[p]
        for o in range(len(pr)):
            if not pr[o]:
                continue
            c = cn[o]
            if c == 0:
                missing.append((p, o))
            else:
                printed_unique += 1
                if c > 1:
                    duplicated_offsets += 1
                max_times = max(max_times, c)
    return SimpleNamespace(printed_unique=printed_unique, duplicated_offsets=duplicated_offsets,
                           max_times=max_times, missing=missing)


def ranges(pairs):
    out, start, prev = [], None, None
    for p, o in pairs:
        if start and p == start[0] and o == prev + 1:
            prev = o
            continue
        if start:
            out.append("p%d:%d-%d" % (start[0], start[1], prev) if prev != start[1] else "p%d:%d" % start)
        start, prev = (p, o), o
    if start:
        out.append("p%d:%d-%d" % (start[0], start[1], prev) if prev != start[1] else "p%d:%d" % start)
    return out


def stamp(line):
    try:
        return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    except ValueError:
        return None


def read_logs(out):
    # The producer's own counters: the last stats line of each daemon (a kill -9 loses up to 10 s).
    stats_rx = re.compile(r"(?:stats: |pricepipe stopped: |exiting now with code \d+; )((?:\w+=[\d.]+ ?)+)$")
    level_rx = re.compile(r"^\S+ (warning|error|critical)\s+\[\d+\] (.*)")
    sums = collections.Counter()
    restarts = collections.Counter()
    warn = collections.Counter()
    final_stats = None
    joined = {}  # daemon -> seconds from its start to its consumer's first assignment
    first_print = {}  # daemon -> seconds from its start to its first line on stdout
    if os.path.exists(os.path.join(out, "first-print")):
        with open(os.path.join(out, "first-print")) as f:
            for line in f:
                d, ms = line.split()
                first_print[int(d)] = int(ms) / 1000.0
    logs = sorted(glob.glob(os.path.join(out, "logs", "daemon-*.log")))
    for path in logs:
        last = None
        d = int(os.path.basename(path)[7:10])
        started = None
        with open(path, errors="replace") as f:
            for line in f:
                if started is None and "pricepipe starting" in line:
                    started = stamp(line)
                if d not in joined and started is not None and "consumer: assigned partitions" in line:
                    t = stamp(line)
                    if t is not None:
                        joined[d] = t - started
                m = stats_rx.search(line.rstrip("\n"))
                if m:
                    last = dict(kv.split("=") for kv in m.group(1).split())
                w = re.search(r"(\w+) worker failed \((.*)\); restarting", line)
                if w:
                    restarts[w.group(1) + ": " + re.sub(r"\d+", "N", w.group(2))[:120]] += 1
                lv = level_rx.match(line)
                if lv:
                    warn[lv.group(1) + ": " + re.sub(r"\d+", "N", lv.group(2))[:150]] += 1
        if last:
            for k in ("generated", "delivered", "failed", "consumed", "printed", "skipped"):
                sums[k] += int(last.get(k, 0))
            if path == logs[-1]:
                final_stats = last
    return SimpleNamespace(sums=sums, restarts=restarts, warn=warn, final_stats=final_stats,
                           joined=joined, first_print=first_print)


def print_events(topic, printed, tallied, logs):
    in_topic, ts_min, ts_max = topic.in_topic, topic.ts_min, topic.ts_max
    missing = tallied.missing
    print()
    print("events")
    span = (ts_max - ts_min) / 1000 if in_topic > 1 else 0
    print("  in the topic (delivered, per kcat):  %d  (created over %.0f s: %.0f/s)" % (in_topic, span, in_topic / span if span else 0))
    if topic.gaps:
        print("  offset gaps in the topic:            %d" % topic.gaps)
    print("  per the daemons' logs:              generated %d, acknowledged %d, failed %d (sum of each daemon's last counters; a kill -9 loses up to 10 s of them)"
          % (logs.sums["generated"], logs.sums["delivered"], logs.sums["failed"]))
    print("  printed lines:                       %d (%d daemons)" % (printed.lines, len(printed.paths)))
    print("  printed, distinct partition/offset:  %d" % tallied.printed_unique)
    print("  MISSING (in the topic, never printed): %d%s" % (len(missing), "" if not missing else "  <-- FAILURE"))
    if missing:
        print("    " + " ".join(ranges(missing)[:30]))
    print("  duplicated (printed again):          %d extra lines over %d offsets, at most %d times; %d by a later daemon (after a kill -9), %d within one daemon"
          % (printed.dup_later + printed.dup_same, tallied.duplicated_offsets, tallied.max_times, printed.dup_later, printed.dup_same))
    print("  printed but not in the topic:        %d%s" % (printed.not_in_topic, "" if not printed.not_in_topic else "  <-- FAILURE"))
    for e in printed.extra_examples:
        print("    " + e)
    print("  printed content differing from the record: %d%s" % (printed.mismatch, "" if not printed.mismatch else "  <-- FAILURE"))
    for e in printed.mismatch_examples:
        print("    " + e)
    print("  torn lines (cut by a kill -9 mid-write): %d" % printed.torn)
    for e in printed.torn_examples:
        print("    " + e)


def print_daemons(printed, logs):
    joined, first_print, final_stats = logs.joined, logs.first_print, logs.final_stats
    print()
    print("daemons: stdout lines, printed for the first time, printed again (after the kill -9 before it);")
    print("         consumer's first assignment and first printed line, after the daemon's start")
    for d, n, new, re_ in printed.per_daemon:
        j = "%.1f s" % joined[d] if d in joined else "never"
        fp = "%.2f s" % first_print[d] if d in first_print else "never"
        print("  #%-3d %9d lines %9d new %8d again   assigned after %s, first print after %s" % (d, n, new, re_, j, fp))
    if final_stats:
        print("  last daemon's produce-to-print latency (its own histogram, capped at 10 s): p50 %s ms, p99 %s ms, p99.9 %s ms"
              % (final_stats.get("latency_p50_ms"), final_stats.get("latency_p99_ms"), final_stats.get("latency_p999_ms")))


def print_log_findings(logs):
    print()
    print("worker restarts inside the daemons (supervisor log): %d" % sum(logs.restarts.values()))
    for k, v in logs.restarts.most_common():
        print("  %4d  %s" % (v, k))
    print("warnings and errors in the daemons' logs: %d" % sum(logs.warn.values()))
    for k, v in logs.warn.most_common(15):
        print("  %5d  %s" % (v, k))


def print_rss(out):
    # RSS
    samples = []
    with open(os.path.join(out, "rss.csv")) as f:
        next(f)
        for line in f:
            t, _, d, pid, kb = line.strip().split(",")
            samples.append((int(t), int(d), int(kb)))
    if samples:
        kbs = [s[2] for s in samples]
        print()
        print("daemon RSS (%d samples every 10 s): min %.1f MB, max %.1f MB, last %.1f MB" %
              (len(samples), min(kbs) / 1024, max(kbs) / 1024, kbs[-1] / 1024))
        per = collections.OrderedDict()
        for t, d, kb in samples:
            per.setdefault(d, []).append((t, kb))
        print("  per daemon (first sample -> max -> last, lifetime):")
        for d, s in per.items():
            print("    #%-3d %6.1f -> %6.1f -> %6.1f MB over %ds" %
                  (d, s[0][1] / 1024, max(k for _, k in s) / 1024, s[-1][1] / 1024, s[-1][0] - s[0][0]))
        line, minute = [], 0
        for t, d, kb in samples:
            if t >= minute * 60:
                line.append("%d:%02d %.1f(#%d)" % (t // 60, t % 60, kb / 1024, d))
                minute = t // 60 + 1
        print("  over time, MB (one sample a minute, #daemon):")
        for i in range(0, len(line), 6):
            print("    " + "  ".join(line[i:i + 6]))


def main(argv):
    out, rate, duration = argv[1], int(argv[2]), int(argv[3])
    ev = os.path.join(out, "events")
    topic = read_topic(ev)
    printed = read_printed(ev, topic)
    tallied = tally(topic.present, printed.count)
    logs = read_logs(out)

    print_events(topic, printed, tallied, logs)
    print_daemons(printed, logs)
    print_log_findings(logs)
    print_rss(out)

    missing, not_in_topic, mismatch = tallied.missing, printed.not_in_topic, printed.mismatch
    verdict = "PASS" if not missing and not not_in_topic and not mismatch else "FAIL"
    print()
    print("checks: missing %d, not-in-topic %d, content mismatches %d -> %s" % (len(missing), not_in_topic, mismatch, verdict))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
