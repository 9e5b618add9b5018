#!/usr/bin/env python3
"""Summarises scripts/bench.sh's throughput runs as one Markdown table.

Usage: bench_table.py COUNT ROWS_FILE
ROWS_FILE has one line per run: LABEL|KIND|ROUND|WALL_S|CPU_S|PEAK_RSS_KB. Per contender the
table gives the median and the min-max over its runs; "pricepipe x" is the contender's median
wall time over pricepipe's (pricepipe's throughput divided by the contender's). After it, for
the partition sweep (kinds "sweep Np"), each contender's wall time on the most partitions over
that on the fewest.
"""
import statistics
import sys


def spread(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    count = int(sys.argv[1])
    runs = {}
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            label, kind, _round, wall, cpu, rss = line.strip().split("|")
            runs.setdefault((kind, label), []).append((float(wall), float(cpu), int(rss)))
    print("| kind | contender | runs | events/s | wall s | CPU s per M events | peak RSS MB | pricepipe x |")
    print("|---|---|---|---|---|---|---|---|")
    base = {}
    for (kind, label), r in runs.items():
        walls = [w for w, _, _ in r]
        cpu_per_m = [c * 1e6 / count for _, c, _ in r]
        rss_mb = [k / 1024 for _, _, k in r]
        median_wall = statistics.median(walls)
        base.setdefault(kind, median_wall)  # pricepipe runs first in each kind
        print(f"| {kind} | {label} | {len(r)} | {count / median_wall:,.0f} | {spread(walls, '{:.2f}')} | "
              f"{spread(cpu_per_m, '{:.2f}')} | {spread(rss_mb, '{:.1f}')} | {median_wall / base[kind]:.2f} |")
    print_sweep(runs)


def print_sweep(runs):
    """Per contender of the partition sweep (kinds "sweep Np"): its median wall time on the most
    partitions over that on the fewest."""
    sweep = {}
    for (kind, label), r in runs.items():
        if kind.startswith("sweep ") and kind.endswith("p"):
            sweep.setdefault(label, {})[int(kind[6:-1])] = statistics.median(w for w, _, _ in r)
    for label, walls in sweep.items():
        if len(walls) > 1:
            fewest, most = min(walls), max(walls)
            print(f"\n{label}: wall time on {most} partitions / on {fewest}: {walls[most] / walls[fewest]:.2f}x")


if __name__ == "__main__":
    main()
