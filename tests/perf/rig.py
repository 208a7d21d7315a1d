"""The rig's own round trip: what a call on the loopback e-Boekhouden simulator takes for a
client that does nothing else.

The floor takes every call as exactly the latency (20 ms). A simulator that answers later than
that makes every client look slower than it is, which no client can make up for and the floor
cannot see. So beside pvsync's ratio the SOAP benchmarks time a minimal client on the same
simulator, at the same latency: raw `http.client` on kept-alive connections, the same
GetRelaties request (one relation by code) again and again, `threads` at a time, in a process of
its own (as pvsync runs). The request is the one pvsync's client writes for it, taken once; after
that no pvsync code runs. Its figures say how much of a ratio is the rig: 20.1 to 20.5 ms at
20 ms on the 2-core box of session 8 (tests/perf/README.md, "The floor").
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from core.demo.world import SimulatedWorld

# The child prints one JSON object: per call, the median and mean milliseconds (the first few
# calls of each thread, which open the connections, are left out).
CHILD = """import json, statistics, sys, threading, time, http.client
from urllib.parse import urlparse
from core.config import load_config
from core.engine.services import eboekhouden_client
from core.soap import transport

taken = {{}}
post = transport.HttpxTransport.post

def take(self, address, message, headers):
    taken.setdefault("request", (address, message, dict(headers)))
    return post(self, address, message, headers)

transport.HttpxTransport.post = take
eb = eboekhouden_client(load_config({config!r}))
times = []
with eb:
    eb.relation("D0")  # opens the session; the request is taken from this call
    address, message, headers = taken["request"]
    url = urlparse(address)

    def client():
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        for number in range({calls}):
            started = time.perf_counter()
            connection.request("POST", url.path, body=message, headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"the simulator answered HTTP {{answer.status}}")
            if number >= 5:
                times.append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range({threads})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
print(json.dumps({{"median_ms": round(statistics.median(times) * 1000, 2),
                  "mean_ms": round(statistics.mean(times) * 1000, 2), "calls": len(times)}}))
"""


def minimal_client_round_trip(world: SimulatedWorld, *, calls: int = 60, threads: int = 4) -> dict[str, Any] | None:
    """The minimal client's milliseconds a call on `world`'s e-Boekhouden simulator (SOAP, on
    loopback, at whatever latency is set now); None where it cannot be timed (REST: the client's
    own pace sets the time there, see `rate_floor_seconds`)."""
    if world.config().eboekhouden.api != "soap":
        return None
    code = CHILD.format(config=str(world.config_path), calls=calls, threads=threads)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the minimal client failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "threads": threads}
