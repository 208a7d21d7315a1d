"""Building the two service clients from the config, and checking that they answer.

The adapters are imported here only, and only when needed, so the engine starts (and
`pvsync status` works) even where an adapter is missing or broken.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from core.secrets import scrub
from core.soap.caller import NO_RETRY, CallMeter, RetryPolicy
from core.soap.errors import ServiceError, TransportFailure
from core.soap.transport import Timeouts
from core.store import Store
from core.store.call_counts import BatchedCallMeter


@dataclass(frozen=True)
class ServiceCheck:
    service: str
    reachable: bool
    credentials_ok: bool
    message: str

    @property
    def ok(self) -> bool:
        return self.reachable and self.credentials_ok


class LogbookLog(logging.LoggerAdapter):
    """A client's logger whose INFO and up goes to the run's logbook (and through it to
    stderr): a session reopened or the GetMutaties budget running low is then seen in the
    console and `pvsync log`, not only in journald. DEBUG stays with Python logging."""

    def __init__(self, logger: logging.Logger, store: Store, kind: str, run_id: Callable[[], int | None]):
        super().__init__(logger, {})
        self.store, self.kind, self.run_id = store, kind, run_id

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level < logging.INFO:
            self.logger.log(level, msg, *args, **kwargs)
            return
        self.store.log(level, self.kind, str(msg) % args if args else str(msg), run_id=self.run_id())


def eboekhouden_client(config: Any, meter: CallMeter | None = None, *, retry: RetryPolicy = RetryPolicy(),
                       http: httpx.Client | None = None, log: logging.Logger | LogbookLog | None = None) -> Any:
    """The client of the API `eboekhouden.api` names; both fit core.eboekhouden.port.EboekhoudenPort."""
    eb = config.eboekhouden
    extra = {"log": log} if log is not None else {}
    timeouts = Timeouts(connect=eb.connect_timeout, read=eb.read_timeout)
    if eb.api == "rest":
        from core.eboekhouden.rest.client import RestClient

        return RestClient(eb.address, eb.api_token, source=eb.source, timeouts=timeouts, ca_file=eb.ca_file,
                          meter=meter, retry=retry, http=http, rate=eb.calls_per_second, **extra)
    from core.eboekhouden.soap.client import EboekhoudenClient

    return EboekhoudenClient(eb.address, eb.username, eb.security_code_1, eb.security_code_2,
                             timeouts=timeouts, ca_file=eb.ca_file, meter=meter, retry=retry, http=http, **extra)


def eboekhouden_logger_name(config: Any) -> str:
    """The logger of the adapter in use (its DEBUG lines stay in Python logging under that name)."""
    return "core.eboekhouden.rest.client" if config.eboekhouden.api == "rest" else "core.eboekhouden.soap.client"


def perfectview_client(config: Any, meter: CallMeter | None = None, *, retry: RetryPolicy = RetryPolicy(),
                       http: httpx.Client | None = None) -> Any:
    from core.perfectview.client import PerfectViewClient

    pv = config.perfectview
    return PerfectViewClient(pv.url, pv.api_key, pv.database_id, pv.user_id,
                             timeouts=Timeouts(connect=pv.connect_timeout, read=pv.read_timeout),
                             ca_file=pv.ca_file, meter=meter, retry=retry, http=http,
                             pages_at_once=config.engine.concurrency, field_names=pv.fields.names,
                             customer_relationship_type=pv.customer_relationship_type)


class DailyLimitMeter:
    """Counts calls like the store does, and refuses the call that would pass the day's limit.

    PerfectView counts API calls per day (ApiGetCalls); `perfectview.daily_call_limit` keeps
    pvsync under a limit of the admin's choosing, so other integrations keep their share.
    """

    def __init__(self, meter: Any, service: str, limit: int):
        self.meter, self.service, self.limit = meter, service, limit

    def record(self, service: str, operation: str) -> None:
        if service == self.service and self.meter.count_today(service) >= self.limit:
            from core.soap.errors import BudgetExhausted

            raise BudgetExhausted(service, operation, f"pvsync made its {self.limit} calls for today "
                                                      "(perfectview.daily_call_limit); the rest waits for tomorrow")
        self.meter.record(service, operation)

    def count_this_month(self, service: str, operation: str) -> int:
        return self.meter.count_this_month(service, operation)

    def count_today(self, service: str, operation: str | None = None) -> int:
        return self.meter.count_today(service, operation)


class RunServices:
    """The two service clients of one run, made on first use and closed at its end.

    e-Boekhouden gets one session per run (opened on first use, shared by every job,
    closed in `close()`); PerfectView's metadata is cached per client, so per run too.
    Tests hand in httpx clients bound to in-process simulators.
    """

    def __init__(self, config: Any, meter: CallMeter | None, *, eboekhouden_http: httpx.Client | None = None,
                 perfectview_http: httpx.Client | None = None):
        self.config = config
        # The store counts reads in batches (core.store.call_counts); flushed in close().
        self.meter = BatchedCallMeter(meter) if isinstance(meter, Store) else meter
        self.store = meter if isinstance(meter, Store) else None
        self.run_id: int | None = None  # set by the engine: what the clients log belongs to this run
        self._eb_http, self._pv_http = eboekhouden_http, perfectview_http
        self._eb: Any = None
        self._pv: Any = None
        # Debiteurnummers a dry run's relations job would create in e-Boekhouden. The real run
        # creates them before the invoices job runs, so the dry run plans their invoices as
        # booked too: the plan a person approves is what the run then writes.
        self.planned_relations: set[str] = set()

    def eboekhouden(self) -> Any:
        if self._eb is None:
            log = None
            if self.store is not None:
                log = LogbookLog(logging.getLogger(eboekhouden_logger_name(self.config)), self.store,
                                 "eboekhouden", lambda: self.run_id)
            client = eboekhouden_client(self.config, self.meter, http=self._eb_http, log=log)
            try:
                client.__enter__()
            except BaseException:
                client.close()
                raise
            self._eb = client
        return self._eb

    def perfectview(self) -> Any:
        if self._pv is None:
            meter, limit = self.meter, self.config.perfectview.daily_call_limit
            if limit and meter is not None:
                meter = DailyLimitMeter(meter, "PerfectView", limit)
            self._pv = perfectview_client(self.config, meter, http=self._pv_http)
        return self._pv

    def close(self) -> None:
        eb, pv, self._eb, self._pv = self._eb, self._pv, None, None
        try:
            if eb is not None:
                try:
                    eb.__exit__(None, None, None)  # CloseSession, also after a failed run
                finally:
                    eb.close()
            if pv is not None:
                pv.close()
        finally:
            if isinstance(self.meter, BatchedCallMeter):
                self.meter.flush()


def _open_eboekhouden_session(api: str) -> Callable[[Any], str]:
    def probe(client: Any) -> str:
        # Opening the session is where e-Boekhouden checks the credentials: the API token (REST,
        # POST /v1/session) or the username and both security codes (SOAP, OpenSession).
        with client.session():
            pass
        if api == "rest":
            return "reachable, credentials accepted (REST API, API token)"
        return "reachable, credentials accepted (SOAP API, username and security codes)"

    return probe


def _count_perfectview_calls(client: Any) -> str:
    # The cheapest call that needs a valid API key, database and user.
    return f"reachable, credentials accepted ({client.calls_today()} calls today)"


def check_eboekhouden(config: Any, meter: CallMeter | None = None) -> ServiceCheck:
    return _check("e-Boekhouden", lambda: eboekhouden_client(config, meter, retry=NO_RETRY),
                  _open_eboekhouden_session(config.eboekhouden.api))


def check_perfectview(config: Any, meter: CallMeter | None = None) -> ServiceCheck:
    return _check("PerfectView", lambda: perfectview_client(config, meter, retry=NO_RETRY),
                  _count_perfectview_calls)


def check_services(config: Any, meter: CallMeter | None = None) -> list[ServiceCheck]:
    """Open each service once with the configured credentials and say what happened.
    No retries: a person is waiting, and the first failure is the answer."""
    return [check_eboekhouden(config, meter), check_perfectview(config, meter)]


def check_vat_ledgers(config: Any, meter: CallMeter | None = None, *, eboekhouden: Any = None) -> ServiceCheck:
    """The VAT mapping's ledgers against the administration's chart: a balance, bank, debtors
    or creditors ledger fails the check; a ledger that looks like no revenue ledger is warned
    about. One ledger list call, in `eboekhouden`'s open session when given (else its own)."""
    from core.sync.vat_guard import mapping_findings

    client = eboekhouden or eboekhouden_client(config, meter, retry=NO_RETRY)
    try:
        if eboekhouden is not None:
            ledgers = client.ledgers()
        else:
            with client.session():
                ledgers = client.ledgers()
    except ServiceError as error:
        return ServiceCheck("VAT mapping", False, False, f"the ledgers could not be read: {error}")
    finally:
        if eboekhouden is None:
            client.close()
    findings = mapping_findings(config.vat.mappings, ledgers)
    refused = [text for level, text in findings if level == "refused"]
    doubts = [text for level, text in findings if level == "warning"]
    if refused:
        return ServiceCheck("VAT mapping", True, False, "refused: " + "; ".join(refused + doubts))
    rules = sum(len(rules) for rules in config.vat.mappings.values())
    said = f"{rules} rule(s) checked against e-Boekhouden's {len(ledgers)} ledgers"
    return ServiceCheck("VAT mapping", True, True, said + ("; warning: " + "; ".join(doubts) if doubts else ""))


def _check(service: str, build: Callable[[], Any], probe: Callable[[Any], str]) -> ServiceCheck:
    try:
        client = build()
    except ImportError as error:
        return ServiceCheck(service, False, False, f"this pvsync has no {service} adapter yet ({error.name})")
    try:
        message = probe(client)
    except TransportFailure as error:
        return ServiceCheck(service, False, False,
                            f"not reachable: {error}. Check the address in the config and the network.")
    except ServiceError as error:  # it answered, and refused
        return ServiceCheck(service, True, False,
                            f"reachable, but it refused: {error}. Check the credentials in the config.")
    except Exception as error:
        return ServiceCheck(service, False, False,
                            scrub(f"the check itself failed ({type(error).__name__}: {error}); this is a bug"))
    finally:
        client.close()
    return ServiceCheck(service, True, True, message)
