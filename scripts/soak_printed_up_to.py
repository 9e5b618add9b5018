#!/usr/bin/env python3
"""Has the soak's consumer printed up to the end of the topic? (scripts/soak.sh, while draining)

    scripts/soak_printed_up_to.py EVENTS_DIR ENDS

ENDS holds one "P O" line per partition: P's last offset in the topic. Exit 0 when the
daemons' output (EVENTS_DIR/daemon-*.out, envelope lines) holds, for each of them, partition
P's offset O or a later one; exit 1 if not. Only the last 16 MiB of each file are read, newest
daemon first, stopping as soon as every partition is reached.
"""
import glob
import os
import re
import sys

OFFSET_RX = re.compile(rb'"partition":(\d+),"offset":(\d+),')
TAIL_BYTES = 16 * 1024 * 1024


def parse_ends(text):
    """{partition: last offset} from "P O" lines."""
    want = {}
    for line in text.splitlines():
        p, o = line.split()
        want[int(p)] = int(o)
    return want


def printed_up_to(events_dir, want):
    """True when the daemons' output reaches every partition's offset in want."""
    seen = {}
    for path in sorted(glob.glob(os.path.join(events_dir, "daemon-*.out")), reverse=True):
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - TAIL_BYTES))
            for m in OFFSET_RX.finditer(f.read()):
                p, o = int(m.group(1)), int(m.group(2))
                if o > seen.get(p, -1):
                    seen[p] = o
        if all(seen.get(p, -1) >= o for p, o in want.items()):
            return True
    return False


def main(argv):
    return 0 if printed_up_to(argv[1], parse_ends(argv[2])) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
