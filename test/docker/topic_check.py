#!/usr/bin/env python3
"""Compares what pricepipe printed with what an independent client read from the topic.

Usage: topic_check.py [--exactly-once] [--delivered N] KCAT_JSONL PRINTED...

KCAT_JSONL holds `kcat -C -J` records of the whole topic; each PRINTED file is the stdout of one
pricepipe run with consumer.output=envelope. Every line of every PRINTED file must be an event
envelope (stdout carries events only). Checks that every record in the topic was printed, with
the same key and event, and that nothing was printed that is not in the topic; with
--exactly-once, that no record was printed twice; with --delivered N, that the topic holds
exactly the N events the producers reported as delivered. Exit 0 when all hold, 1 otherwise.
"""
import argparse
import collections
import json
import sys


def read_topic(path):
    records = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            records[(r["partition"], r["offset"])] = (r["key"], json.loads(r["payload"]))
    return records


def read_printed(paths, problems):
    printed = collections.defaultdict(list)
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    e = json.loads(line)
                    printed[(e["partition"], e["offset"])].append((e["key"], e["event"]))
                except (ValueError, KeyError, TypeError):
                    problems.append(f"{path}:{number}: not an event envelope: {line.rstrip()[:200]}")
    return printed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exactly-once", action="store_true")
    ap.add_argument("--delivered", type=int)
    ap.add_argument("topic")
    ap.add_argument("printed", nargs="+")
    args = ap.parse_args()
    problems = []
    topic = read_topic(args.topic)
    printed = read_printed(args.printed, problems)
    missing = sorted(set(topic) - set(printed))
    extra = sorted(set(printed) - set(topic))
    twice = sorted(k for k, v in printed.items() if len(v) > 1)
    differ = sorted(k for k, v in printed.items() if k in topic and any(p != topic[k] for p in v))
    if missing:
        problems.append(f"{len(missing)} records in the topic were never printed, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} printed records are not in the topic, e.g. {extra[:5]}")
    if differ:
        problems.append(f"{len(differ)} printed records differ from the topic, e.g. {differ[:5]}")
    if args.exactly_once and twice:
        problems.append(f"{len(twice)} records were printed more than once, e.g. {twice[:5]}")
    if args.delivered is not None and args.delivered != len(topic):
        problems.append(f"the producers reported {args.delivered} delivered, the topic holds {len(topic)}")
    lines = sum(len(v) for v in printed.values())
    print(f"topic_check: {len(topic)} records in the topic, {lines} printed lines in "
          f"{len(args.printed)} outputs, {len(twice)} printed more than once", file=sys.stderr)
    if not topic:
        problems.append("the topic is empty")
    for p in problems:
        print(f"topic_check: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
