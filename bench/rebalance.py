#!/usr/bin/env python3
"""What a rebalance costs the instance that keeps running, per consumer group protocol.

  rebalance.py PRICEPIPE BROKERS TOPIC GROUP PROTOCOL [WINDOW_S]

Instance A produces at 1000 events/s and prints; WINDOW_S seconds later B joins the group
(consumer only), WINDOW_S seconds after that B stops (SIGTERM), and WINDOW_S seconds later A
stops. Each line either prints is timestamped as it arrives (CLOCK_MONOTONIC). Prints one
line: B's first print after its start, and A's longest gap between two printed lines in the
window before B joins (the baseline), after B joins, and after B leaves. Figures, never
pass/fail: scripts/bench.sh puts them in its table.
"""
import signal
import subprocess
import sys
import threading
import time


class Instance:
    def __init__(self, argv):
        self.started = time.monotonic()
        self.times = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for _ in self.proc.stdout:
            self.times.append(time.monotonic())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.reader.join(timeout=10)

    def kill(self):  # on the way out after an error: nothing left running
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def longest_gap(times, start, end):
    inside = [t for t in times if start <= t <= end]
    points = [start] + inside + [end]
    return max(b - a for a, b in zip(points, points[1:]))


def main():
    pp, brokers, topic, group, protocol = sys.argv[1:6]
    window = float(sys.argv[6]) if len(sys.argv) > 6 else 15.0
    common = [pp, "--config", "supervisor.conf", "--kafka.brokers=" + brokers, "--kafka.topic=" + topic,
              "--kafka.partitions=6", "--consumer.group_id=" + group, "--consumer.group_protocol=" + protocol,
              "--log.stats_interval_s=0"]
    instances = []
    try:
        a = Instance(common + ["--producer.rate=1000"])
        instances.append(a)
        time.sleep(window)
        if not a.times:
            sys.exit("rebalance: A printed nothing in %.0f s" % window)
        joined = time.monotonic()
        b = Instance(common + ["--producer.enabled=false"])
        instances.append(b)
        time.sleep(window)
        left = time.monotonic()
        b.stop()
        time.sleep(window)
        end = time.monotonic()
        a.stop()
    finally:
        for instance in instances:
            instance.kill()
    first = "%.2f s" % (b.times[0] - b.started) if b.times else "none"
    print("%s|%s|%.3f|%.3f|%.3f" % (protocol, first, longest_gap(a.times, a.times[0] + 1, joined),
                                    longest_gap(a.times, joined, left), longest_gap(a.times, left, end)))


if __name__ == "__main__":
    main()
