#!/usr/bin/env python3
"""Produce-to-print latency of pricepipe, measured from outside the process.

  latency.py PRICEPIPE BROKERS TOPIC GROUP RATE SECONDS [-- EXTRA PRICEPIPE ARGS...]

A consumer-only pricepipe prints the envelope output (consumer.output=envelope) to a pipe read
here; once it holds its partitions, a producer-only pricepipe produces RATE events/s for
SECONDS. Each line is stamped with this process's wall clock as it arrives; its latency is that
clock minus the line's Kafka timestamp (CreateTime: set by the producer when it took the
event, in whole milliseconds, so a figure is up to 1 ms above the truth). The first tenth of
the lines is dropped as warm-up. EXTRA args go to both instances. Prints one line:

  p50_ms|p99_ms|p999_ms|lines

Figures, never pass/fail: scripts/bench.sh puts them in its table.
"""
import json
import os
import subprocess
import sys
import time


def wait_for_partitions(err_path, proc, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("latency: the consumer exited early; see " + err_path)
        with open(err_path, errors="replace") as f:
            if "holding partitions [" in f.read().replace("holding partitions []", ""):
                return
        time.sleep(0.05)
    sys.exit("latency: the consumer held no partition within %d s" % timeout_s)


def split_at_dashes(argv):
    """(the arguments before "--", those after it)."""
    if "--" not in argv:
        return argv, []
    return argv[:argv.index("--")], argv[argv.index("--") + 1:]


def quantile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    argv, extra = split_at_dashes(sys.argv[1:])
    pp, brokers, topic, group, rate, seconds = argv
    count = int(float(rate) * float(seconds))
    common = [pp, "--config", "supervisor.conf", "--kafka.brokers=" + brokers, "--kafka.topic=" + topic,
              "--log.stats_interval_s=0"] + extra
    err_path = "/tmp/latency-%d-consumer.err" % os.getpid()
    arrivals = []
    with open(err_path, "w") as err:
        consumer = subprocess.Popen(common + ["--producer.enabled=false", "--consumer.output=envelope",
                                              "--consumer.group_id=" + group, "--consumer.exit_after=%d" % count],
                                    stdout=subprocess.PIPE, stderr=err)
    producer = None
    try:
        wait_for_partitions(err_path, consumer)
        producer = subprocess.Popen(common + ["--consumer.enabled=false", "--producer.rate=" + rate,
                                              "--producer.count=%d" % count, "--log.level=warn"])
        for line in consumer.stdout:  # parsed afterwards: here only the clock is read
            arrivals.append((time.time(), line))
        producer.wait(timeout=60)
        consumer.wait(timeout=60)
    finally:
        for proc in (consumer, producer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    os.unlink(err_path)
    print(summary(arrivals, count))


def summary(arrivals, count):
    """p50|p99|p999|lines of (arrival clock, line with a "timestamp" in ms) pairs, the first
    tenth dropped as warm-up; exits when fewer than COUNT lines arrived."""
    if len(arrivals) < count:
        sys.exit("latency: %d of %d lines printed" % (len(arrivals), count))
    latencies = sorted(t * 1000.0 - json.loads(line)["timestamp"] for t, line in arrivals[count // 10:])
    return "%.2f|%.2f|%.2f|%d" % (quantile(latencies, 0.50), quantile(latencies, 0.99), quantile(latencies, 0.999),
                                  len(latencies))


if __name__ == "__main__":
    main()
