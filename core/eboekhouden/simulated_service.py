"""e-Boekhouden simulated whole: the SOAP and the REST API on one administration, on one port.

`/v1/…` goes to the REST simulator, everything else (`/soap.asmx`) to the SOAP one; both read and
write the same `Administration` under its one lock, so a test or a demo can book over one API
and read back over the other. `pvsync simulate eboekhouden` runs `serve`.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Literal

from core.eboekhouden.administration import Administration
from core.eboekhouden.demo_data import load_or_seed
from core.eboekhouden.rest.sim_wire import REST_FAULT_KINDS
from core.eboekhouden.rest.simulator import RestSimulator
from core.eboekhouden.soap.simulator import EboekhoudenSimulator, SimCredentials
from core.soap.loopback import LoopbackServer
from core.soap.simulator import Knobs

REST_PREFIX = "/v1"
DEMO_SOURCE = "pvsync"  # a `source` the REST API accepts (at most 10 of [A-Za-z0-9_ ])


class EboekhoudenService:
    """The WSGI app serving both APIs; `.soap` and `.rest` are the two simulators, `.admin` their data."""

    def __init__(self, knobs: Knobs | None = None, state_file: str | Path | None = None,
                 seed_data: Literal["demo", "empty"] = "demo", credentials: SimCredentials | None = None,
                 clock: Callable[[], float] = time.time, administration: Administration | None = None):
        self.knobs = knobs or Knobs()
        self.credentials = credentials or SimCredentials()
        if administration is None:
            administration = load_or_seed(state_file, seed_data, self.knobs.seed)
        self.admin = administration
        self.soap = EboekhoudenSimulator(self.knobs, credentials=self.credentials, clock=clock,
                                         administration=administration)
        self.rest = RestSimulator(administration, self.knobs, api_token=self.credentials.api_token, clock=clock)

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == REST_PREFIX or path.startswith(REST_PREFIX + "/"):
            return self.rest(environ, start_response)
        return self.soap(environ, start_response)


def serve(port: int = 0, seed: Literal["demo", "empty"] = "demo", latency_ms: float = 0.0, faults: str = "",
          state: str | Path | None = None, api: Literal["rest", "soap"] = "soap") -> None:
    """Run both APIs on 127.0.0.1:`port` until SIGINT or SIGTERM.

    Prints one JSON line, then blocks: `url` is the chosen API's address (`rest_url` and `soap_url`
    are both always there), with the credentials each accepts (demo values, printed on purpose so
    scripts can use them).
    """
    knobs = Knobs(latency_ms=latency_ms, faults=Knobs.parse_faults(faults, REST_FAULT_KINDS))
    service = EboekhoudenService(knobs, state_file=state, seed_data=seed)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LoopbackServer(service, port=port) as server:
        c = service.credentials
        soap_url, rest_url = server.url(service.soap.path), server.url("/")
        print(json.dumps({"service": "eboekhouden", "api": api, "url": rest_url if api == "rest" else soap_url,
                          "rest_url": rest_url, "soap_url": soap_url, "api_token": c.api_token,
                          "source": DEMO_SOURCE, "username": c.username, "security_code_1": c.security_code_1,
                          "security_code_2": c.security_code_2}), flush=True)
        stop.wait()
