"""A complete simulated world: both services, a config pointing at them, a state folder.

The demo runs on it, and so do the end-to-end tests and the benchmarks: the same
simulators, the same config loader and the same engine a customer runs. The only thing
that differs from production is the two URLs (and, in-process, the httpx transport).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from core.config import Config, load_config, write_new_config
from core.eboekhouden.simulated_service import EboekhoudenService
from core.engine.engine import Engine
from core.engine.services import RunServices, eboekhouden_client, perfectview_client
from core.perfectview.simulator import PerfectViewSimulator
from core.soap.loopback import InProcessTransport, LoopbackServer
from core.soap.simulator import Knobs

# The VAT mapping of the demo organisation (Netherlands) onto the simulated ledgers.
DEMO_VAT_NL = {
    "BTW hoog 21%": ("HOOG_VERK_21", "8000"),
    "BTW laag 9%": ("LAAG_VERK_9", "8010"),
    "BTW verlegd": ("VERL_VERK", "8020"),
    "BTW EU 0%": ("BI_EU_VERK_D", "8030"),
    # "BTW 0%" is left unmapped on purpose: the demo shows an invoice waiting for it.
}
IN_PROCESS_HOST = "http://127.0.0.1"


@dataclass
class SimulatedWorld:
    """Both simulators plus a config file and a state folder under `root`.

    `loopback=True` serves the simulators on real sockets (the demo, end-to-end tests);
    otherwise clients reach them in-process through httpx's WSGI transport.
    """

    root: Path
    seed: Literal["demo", "empty"] = "demo"
    loopback: bool = False
    eboekhouden_knobs: Knobs = field(default_factory=Knobs)
    perfectview_knobs: Knobs = field(default_factory=Knobs)
    persist: bool = False  # keep simulator state in files under root (crash tests)
    settings: dict[str, Any] = field(default_factory=dict)  # dotted config keys -> values
    # Which e-Boekhouden API pvsync talks to; the simulated service serves both on one administration.
    eboekhouden_api: Literal["rest", "soap"] = "soap"
    # "custom": a PerfectView database whose names differ from pvsync's defaults (sim_database.LAYOUTS).
    perfectview_variant: str = "standard"

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.root / "state"
        self.config_path = self.root / "config.toml"
        # e-Boekhouden serves both its APIs on one administration (REST under /v1/); `eboekhouden`
        # is the SOAP side, whose helpers (store_relation, open_item, …) tests and the demo use.
        self.eboekhouden_service = EboekhoudenService(
            self.eboekhouden_knobs, seed_data=self.seed,
            state_file=self.root / "eboekhouden.json" if self.persist else None)
        self.eboekhouden = self.eboekhouden_service.soap
        self.perfectview = PerfectViewSimulator(self.perfectview_knobs, seed_data=self.seed,
                                                state_file=self.root / "perfectview.json" if self.persist else None,
                                                variant=self.perfectview_variant)
        self._servers: list[LoopbackServer] = []
        if self.loopback:
            eb_server = LoopbackServer(self.eboekhouden_service).start()
            pv_server = LoopbackServer(self.perfectview).start()
            self._servers = [eb_server, pv_server]
            self.eboekhouden_url = eb_server.url(self.eboekhouden.path)
            self.eboekhouden_rest_url = eb_server.url("/")
            self.perfectview_url = pv_server.url(self.perfectview.path)
        else:
            self.eboekhouden_url = IN_PROCESS_HOST + self.eboekhouden.path
            self.eboekhouden_rest_url = IN_PROCESS_HOST + "/"
            self.perfectview_url = IN_PROCESS_HOST + self.perfectview.path
        if not self.config_path.exists():
            write_new_config(self.config_path, self._config_values())

    @property
    def eboekhouden_config_url(self) -> str:
        """The address pvsync is given: the REST root or the SOAP endpoint."""
        return self.eboekhouden_rest_url if self.eboekhouden_api == "rest" else self.eboekhouden_url

    def _config_values(self) -> dict[str, Any]:
        eb, pv = self.eboekhouden.credentials, self.perfectview.credentials
        values: dict[str, Any] = {
            "eboekhouden.api": self.eboekhouden_api,
            "eboekhouden.url": self.eboekhouden_config_url,
            "eboekhouden.username": eb.username, "eboekhouden.api_token": eb.api_token,
            "eboekhouden.security_code_1": eb.security_code_1, "eboekhouden.security_code_2": eb.security_code_2,
            "perfectview.url": self.perfectview_url, "perfectview.api_key": pv.api_key,
            "perfectview.database_id": pv.database_id, "perfectview.user_id": pv.user_id,
            "payments.enabled": True,
            # The demo and the tests write at once; the approval gate's own tests switch it on.
            "engine.approve_first_run": False,
        }
        for vat, (code, ledger) in DEMO_VAT_NL.items():
            values[f"vat.NL.{vat}"] = {"btw_code": code, "ledger": ledger}
        values.update(self.settings)
        return values

    # ------------------------------------------------------------------ pvsync's side

    def config(self) -> Config:
        # Secrets are in the 0600 config file; the environment must not override them.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVSYNC_")}
        return load_config(self.config_path, env=env)

    def http_for(self, simulator: Any) -> httpx.Client | None:
        """An httpx client reaching `simulator` in-process; None on loopback (clients make their own)."""
        if self.loopback:
            return None
        app = self.eboekhouden_service if simulator is self.eboekhouden else simulator  # both e-Boekhouden APIs
        return httpx.Client(transport=InProcessTransport(app=app))

    def services(self, config: Config, store: Any) -> RunServices:
        return RunServices(config, store, eboekhouden_http=self.http_for(self.eboekhouden),
                           perfectview_http=self.http_for(self.perfectview))

    def engine(self, *, mode: str = "cli", jobs: list | None = None) -> Engine:
        engine = Engine(self.state_dir, self.config_path, mode=mode, jobs=jobs, services=self.services)
        if not engine.acquire():
            raise engine.busy
        return engine

    # ------------------------------------------------------------------ the other people's side

    def eboekhouden_client(self):
        """A client for setting up the world (as a bookkeeper would, through the API)."""
        return eboekhouden_client(self.config(), http=self.http_for(self.eboekhouden))

    def perfectview_client(self):
        return perfectview_client(self.config(), http=self.http_for(self.perfectview))

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []

    def __enter__(self) -> SimulatedWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
