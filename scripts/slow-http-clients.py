#!/usr/bin/env python3
"""Slow HTTP clients against pricepipe's health endpoint, by hand (the tests use
test/support/slow_http_clients.hpp): opens N connections to 127.0.0.1:PORT that send a request
line, then a header line every 0.3 s and never finish; meanwhile probes /livez ten times with
curl and prints each status and time; then reports when the server had closed them all.

    scripts/slow-http-clients.py PORT [N]      (N defaults to 200)
"""
import socket
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 64
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 200
    opened = time.time()
    clients = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        clients.append(s)
    open_ = set(range(count))

    def dribble() -> None:
        for i in list(open_):
            try:
                if clients[i].recv(256) == b"":
                    open_.discard(i)
                    continue
            except BlockingIOError:
                pass
            except OSError:
                open_.discard(i)
                continue
            try:
                clients[i].send(b"X-Slow: 1\r\n")
            except OSError:
                open_.discard(i)

    for _ in range(10):
        probe = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}s", "--max-time", "5",
             f"http://127.0.0.1:{port}/livez"], capture_output=True, text=True, check=False)
        print("/livez:", probe.stdout)
        dribble()
        time.sleep(0.3)
    while open_ and time.time() - opened < 60:
        dribble()
        time.sleep(0.2)
    print(f"{count - len(open_)} of {count} closed by the server within {time.time() - opened:.1f} s of opening")
    return 0 if not open_ else 1


if __name__ == "__main__":
    sys.exit(main())
