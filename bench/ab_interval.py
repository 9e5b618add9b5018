#!/usr/bin/env python3
"""Milliseconds between two lines of a pricepipe log (text format) read from stdin: from the
first line holding START to the first line after it holding END. Used by scripts/bench-ab.sh.
    ab_interval.py START END < pricepipe.err
Exits 1, naming what is missing, when either line is not there."""
import datetime
import sys


def stamp(line):
    # "2026-12-01T14:50:28.123 info  [123] ..."
    return datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%f")


def main():
    start_text, end_text = sys.argv[1], sys.argv[2]
    start = None
    for line in sys.stdin:
        if start is None and start_text in line:
            start = stamp(line)
        elif start is not None and end_text in line:
            print(round((stamp(line) - start).total_seconds() * 1000))
            return 0
    print("ab_interval: no line with %r%s" % (start_text if start is None else end_text,
                                               "" if start is None else " after the start"),
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
