#!/usr/bin/env python3
"""bench/latency.py's produce-to-print latency with kcat at both ends instead of pricepipe: what
librdkafka's own command-line clients reach on the same broker and machine, in the same run.

  latency_kcat.py BROKERS TOPIC RATE SECONDS [-- EXTRA KCAT -C ARGS...]

TOPIC is new and empty. kcat -C reads it from the beginning (output unbuffered, with the EXTRA
args: scripts/bench.sh passes its tuning) and prints each message's Kafka timestamp; kcat -P takes one event per 1/RATE s
on its stdin (written each millisecond, as many as are due) and sends each as it reads it, with
pricepipe's producer settings: idempotent, acks=all, linger.ms=0, one request in flight. librdkafka
stamps CreateTime when kcat hands it the line. Probe messages go first, one every 100 ms until the
consumer prints one, so that the paced events find both ends connected. Prints the same line as
latency.py (p50_ms|p99_ms|p999_ms|lines); figures, never pass/fail.
"""
import subprocess
import sys
import threading
import time

from latency import split_at_dashes, summary

PRODUCER = ["-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=0",
            "-X", "max.in.flight.requests.per.connection=1"]
PROBE = b'{"probe":1}\n'
EVENT = b'{"match":123,"price":4.56}\n'
CONNECT_TIMEOUT_S = 30


def feed(producer, connected, rate, count):
    """Probes until CONNECTED is set, then COUNT events at RATE; closes kcat's stdin."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not connected.wait(0.1):
        if time.monotonic() > deadline:
            producer.stdin.close()
            return
        producer.stdin.write(PROBE)
        producer.stdin.flush()
    start = time.monotonic()
    written = 0
    while written < count:
        due = min(count, int((time.monotonic() - start) * rate) + 1)
        if due > written:
            producer.stdin.write(EVENT * (due - written))
            producer.stdin.flush()
            written = due
        time.sleep(0.001)
    producer.stdin.close()


def main():
    argv, extra = split_at_dashes(sys.argv[1:])
    brokers, topic, rate, seconds = argv
    count = int(float(rate) * float(seconds))
    consumer = subprocess.Popen(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-u", "-q"] + extra +
                                ["-f", '{"timestamp":%T,"event":%s}\n'], stdout=subprocess.PIPE)
    producer = subprocess.Popen(["kcat", "-P", "-b", brokers, "-t", topic] + PRODUCER, stdin=subprocess.PIPE)
    # Ends a run whose consumer stops printing, so that the bench reports it instead of hanging.
    watchdog = threading.Timer(CONNECT_TIMEOUT_S + float(seconds) + 60, consumer.kill)
    watchdog.start()
    connected = threading.Event()
    feeder = threading.Thread(target=feed, args=(producer, connected, float(rate), count), daemon=True)
    feeder.start()
    arrivals = []
    try:
        for line in consumer.stdout:  # parsed afterwards: here only the clock is read
            if b'"probe"' in line:
                connected.set()
                continue
            arrivals.append((time.time(), line))
            if len(arrivals) >= count:
                break
    finally:
        watchdog.cancel()
        consumer.kill()
        consumer.wait()
        feeder.join(timeout=CONNECT_TIMEOUT_S)
        producer.wait(timeout=60)
    print(summary(arrivals, count))


if __name__ == "__main__":
    main()
