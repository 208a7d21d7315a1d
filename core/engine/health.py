"""Is the engine healthy? The answer `pvsync status` and monitoring read.

Read from the database only (no config needed): the engine row tells whether an engine
beats and when each enabled job is due; the runs tell how the last ones ended.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from core import clock
from core.config.values import format_duration
from core.eboekhouden.rest.errors import TOKEN_PAGE
from core.engine.jobs import JOB_ORDER
from core.engine.schedule import HEARTBEAT_SECONDS
from core.store import EngineStatus, Run, Store
from core.store.approvals import ApprovalWait, Approvals
from core.store.invoice_journal import InvoiceJournal
from core.store.relation_state import RelationState
from core.store.records import to_text, utc_now
from core.sync.invoice_states import InvoiceState

# The monitoring-plugin convention (Nagios, Icinga, Zabbix, Checkmk read it as it is).
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS_WORDS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
# Watchdog alerts that only ask for a person's attention; the others go with a CRITICAL problem.
WARNING_ALERTS = frozenset({"mutaties_budget", "perfectview_calls", "no_success"})
NAMED_AT_MOST = 3  # invoices named in the summary line; the rest are counted
HEARTBEAT_STALE = timedelta(seconds=3 * HEARTBEAT_SECONDS)
# A due job may wait this long (a run in progress, a slow start) before it counts as overdue.
OVERDUE_GRACE = timedelta(minutes=30)
EBOEKHOUDEN, PERFECTVIEW = "e-Boekhouden", "PerfectView"  # service names as the call meter records them
# e-Boekhouden publishes a budget of GetMutaties calls per calendar month; pvsync's
# client refuses the last tenth of it for anything but invoice lookups.
MUTATIES_MONTHLY_BUDGET = 5000
ALERT_PERCENT = 80  # a budget past this share is worth a person's attention before it runs out
FAILED_IN_A_ROW = 3
TOKEN_PROBLEM = (f"e-Boekhouden refuses the API token (expired or revoked): make a new one in e-Boekhouden under "
                 f"{TOKEN_PAGE} and put it in eboekhouden.api_token (or PVSYNC_EBOEKHOUDEN_API_TOKEN); "
                 "nothing is sent to e-Boekhouden until then")
NO_SUCCESS_FACTOR = 2  # a job without a successful run for this many intervals


@dataclass(frozen=True)
class Watch:
    """What the watchdog measures against: the enabled jobs' intervals and the call limits.
    From the config, whose secrets are not needed; without a config only the alerts that
    need none (heartbeat, failures in a row, the GetMutaties budget) are given."""

    intervals: Mapping[str, timedelta] = field(default_factory=dict)
    perfectview_daily_limit: int | None = None
    mutaties_budget: int = MUTATIES_MONTHLY_BUDGET
    # "rest" or "soap" (eboekhouden.api); None without a config. The GetMutaties budget is SOAP's:
    # the REST API publishes no quota, so on REST the calls are counted and shown, not budgeted.
    eboekhouden_api: str | None = None

    @property
    def mutaties_budgeted(self) -> bool:
        return self.eboekhouden_api != "rest"


def watch_from_config(config: Any) -> Watch:
    from core.engine.jobs import registered

    intervals = {job.name: job.interval(config) for job in registered() if job.enabled(config)}
    return Watch(intervals, config.perfectview.daily_call_limit, eboekhouden_api=config.eboekhouden.api)


def read_watch(config_path: Path) -> Watch:
    """The watch of the config file at `config_path`; the default one when it cannot be read."""
    from core.config.load import check_text, read_config_text
    from core.config.problems import ConfigError

    try:
        config, _ = check_text(read_config_text(config_path), config_path, env={}, with_secrets=False)
    except ConfigError:
        return Watch()
    return watch_from_config(config) if config is not None else Watch()


@dataclass(frozen=True)
class Alert:
    """A watchdog alert: something a person should look at before it becomes a failure."""

    kind: str  # heartbeat_stale, no_success, failing_in_a_row, mutaties_budget, perfectview_calls
    message: str


@dataclass(frozen=True)
class ServiceHealth:
    """How a service last answered, as the logbook of the newest run tells it."""

    service: str
    state: str  # OK, FAILING, or UNKNOWN (no run yet)
    run_id: int | None
    at: datetime | None  # when the run finished (OK), or the failure was logged
    message: str  # the failed call, from its operation on; "" when OK
    calls_today: int
    api: str | None = None  # e-Boekhouden's "rest" or "soap" when the config says; None for PerfectView
    trial: bool = False  # what is said comes from a trial run (sync --dry-run): no real run has finished yet

    def verdict(self, when: str = "") -> str:
        """In words; `when` is `at` as the front end writes times."""
        at = f" ({when})" if when else ""
        run = f"trial run {self.run_id}" if self.trial else f"run {self.run_id}"
        if self.state == "OK":
            return f"OK{at}: no call failed in {run}; {self.calls_text()}"
        if self.state == "FAILING":
            return f"FAILING{at} in {run}: {self.message}"
        return f"not called yet: no run has finished; {self.calls_text()}"

    def calls_text(self) -> str:
        if self.api == "rest":
            return f"{self.calls_today} REST calls today (no published quota)"
        if self.api == "soap":
            return f"{self.calls_today} SOAP calls today"
        return f"{self.calls_today} calls today"

    @property
    def token_rejected(self) -> bool:
        """The failed call was e-Boekhouden refusing the REST API token (expired or revoked)."""
        return self.state == "FAILING" and TOKEN_PAGE in self.message

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "run_id": self.run_id, "at": to_text(self.at), "message": self.message,
                "calls_today": self.calls_today, "api": self.api, "token_rejected": self.token_rejected,
                "trial": self.trial}


@dataclass(frozen=True)
class JobHealth:
    job: str
    last_run: Run | None
    last_success: Run | None
    next_due: datetime | None  # None: not scheduled (switched off, or no engine has run yet)
    overdue: bool


@dataclass(frozen=True)
class Waiting:
    """Something that waits for a person (WARNING): blocked or unknown invoices, relation problems."""

    kind: str  # invoices_blocked, invoices_unknown, relations
    summary: str  # "1 invoice blocked: F2026-0042 (VAT code BTW 6% is not mapped)"
    subjects: tuple[str, ...]  # the invoice numbers or relations, for the alerts' problem keys
    # Each subject in words where its key is not (a relation's key is a PerfectView id): for the alerts.
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Health:
    exit_code: int
    problems: list[str]  # CRITICAL: the engine down, the last run failed, a job overdue
    engine_up: bool
    engine: EngineStatus
    jobs: list[JobHealth]
    last_run: Run | None
    checked_at: datetime
    alerts: list[Alert] = field(default_factory=list)
    services: list[ServiceHealth] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)  # invoices and relations waiting for a person
    # The plan that waits for approval before the engine writes (core/store/approvals.py).
    approval: ApprovalWait | None = None

    @property
    def status(self) -> str:
        return STATUS_WORDS[self.exit_code]

    def summary(self) -> str:
        """The one line a monitoring system shows: "PVSYNC WARNING - 1 invoice blocked: ..."."""
        said = [*self.problems, *(w.summary for w in self.waiting),
                *(["the engine waits for approval before its first writes"] if self.approval else []),
                *(a.message for a in self.alerts if a.kind in WARNING_ALERTS and a.message not in self.problems)]
        return f"PVSYNC {self.status} - " + ("; ".join(said) if said else "engine up, nothing waits")

    def attention(self) -> list[str]:
        """Problems, the waiting approval and watchdog alerts, each said once (a stale heartbeat is both)."""
        return [*self.problems, *([self.approval_text()] if self.approval else []),
                *(f"watchdog: {a.message}" for a in self.alerts if a.message not in self.problems)]

    def approval_text(self) -> str:
        wait = self.approval
        run = f" (plan of run {wait.run_id})" if wait.run_id else ""
        return (f"nothing is written: the engine waits for approval since {clock.shown(wait.since)}"
                f"{run}, the {wait.reason}; approve with `pvsync approve` or in the console (w)")

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.exit_code == OK,
            "status": self.status,
            "summary": self.summary(),
            "exit_code": self.exit_code,
            "problems": self.problems,
            "waiting": [{"kind": w.kind, "summary": w.summary, "subjects": list(w.subjects)} for w in self.waiting],
            "checked_at": to_text(self.checked_at),
            "engine": {
                "up": self.engine_up, "pid": self.engine.pid, "mode": self.engine.mode,
                "state": self.engine.state, "heartbeat_at": to_text(self.engine.heartbeat_at),
                "started_at": to_text(self.engine.started_at), "current_run_id": self.engine.current_run_id,
                "progress": self.engine.progress,
            },
            "jobs": {
                job.job: {
                    "last_run_id": job.last_run.id if job.last_run else None,
                    "last_outcome": job.last_run.job_outcomes.get(job.job) if job.last_run else None,
                    "last_run_at": to_text(job.last_run.started_at) if job.last_run else None,
                    "last_success_at": to_text(job.last_success.started_at) if job.last_success else None,
                    "next_due": to_text(job.next_due), "overdue": job.overdue,
                } for job in self.jobs
            },
            "last_run": _run_json(self.last_run),
            "alerts": [{"kind": alert.kind, "message": alert.message} for alert in self.alerts],
            "services": {service.service: service.to_json() for service in self.services},
            "approval": {
                "waiting": self.approval is not None,
                "reason": self.approval.reason if self.approval else None,
                "since": to_text(self.approval.since) if self.approval else None,
                "run_id": self.approval.run_id if self.approval else None,
                "plan": list(self.approval.summary) if self.approval else [],
            },
        }


def _run_json(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "trigger": run.trigger, "jobs": run.jobs, "dry_run": run.dry_run,
            "started_at": to_text(run.started_at), "finished_at": to_text(run.finished_at),
            "outcome": run.outcome, "job_outcomes": run.job_outcomes, "counters": run.counters, "error": run.error}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def engine_up(engine: EngineStatus, now: datetime, alive: Callable[[int], bool] = pid_alive) -> bool:
    return (engine.state != "stopped" and engine.heartbeat_at is not None and engine.pid is not None
            and now - engine.heartbeat_at <= HEARTBEAT_STALE and alive(engine.pid))


def assess(store: Store, now: datetime | None = None, *, alive: Callable[[int], bool] = pid_alive,
           watch: Watch | None = None) -> Health:
    """The monitoring verdict: CRITICAL (2) when the engine is down, the last run failed or a
    job is overdue; else WARNING (1) when something waits for a person (blocked or unknown
    invoices, relation problems, a budget past 80 %, a job without success for long); else OK."""
    now = now or utc_now()
    engine = store.engine_status()
    up = engine_up(engine, now, alive)
    current = store.run(engine.current_run_id) if up and engine.current_run_id else None
    jobs = []
    for name in [*JOB_ORDER, *sorted(set(engine.next_due) - set(JOB_ORDER))]:
        due = engine.next_due.get(name)
        in_current_run = current is not None and name in current.jobs
        overdue = up and due is not None and now - due > OVERDUE_GRACE and not in_current_run
        jobs.append(JobHealth(name, store.last_run(name), store.last_run(name, successful=True), due, overdue))
    finished = [run for run in store.runs(limit=50) if run.finished_at]
    last = next((run for run in finished if not run.dry_run), None)
    # A trial run (sync --dry-run) reads both services as a real one does: until a real run has
    # finished, how they answered there is what there is to say of them.
    last_calls = last or next(iter(finished), None)

    problems = []
    if not up:
        problems.append(_down_reason(engine, now))
    if last is not None and last.outcome in ("failed", "partial"):
        problems.append(f"the last run ({last.id}) {last.outcome}: {last.error or 'see pvsync log'}")
    problems += [f"{job.job} is overdue: it was due {clock.shown(job.next_due)}" for job in jobs if job.overdue]
    watch = watch or Watch()
    alerts = watchdog(store, engine, jobs, now, watch)
    services = [service_health(store, EBOEKHOUDEN, current, last_calls, api=watch.eboekhouden_api),
                service_health(store, PERFECTVIEW, current, last_calls)]
    if services[0].token_rejected:
        # Said first and short: every job that needs e-Boekhouden fails the same way until a person acts.
        problems.insert(0, TOKEN_PROBLEM)
    waiting = waiting_for_a_person(store)
    approval = Approvals(store).waiting()
    if problems:
        code = CRITICAL
    elif waiting or approval or any(alert.kind in WARNING_ALERTS for alert in alerts):
        code = WARNING
    else:
        code = OK
    return Health(code, problems, up, engine, jobs, last, now, alerts, services, waiting, approval)


def waiting_for_a_person(store: Store) -> list[Waiting]:
    journal = InvoiceJournal(store)
    waiting = []
    for state, kind, word in ((InvoiceState.BLOCKED, "invoices_blocked", "blocked"),
                              (InvoiceState.UNKNOWN, "invoices_unknown", "with an unknown outcome")):
        entries = journal.entries([state])
        if entries:
            named = ", ".join(f"{e.invoice_number} ({e.reason or e.block_code or word})"
                              for e in entries[:NAMED_AT_MOST])
            more = f" and {len(entries) - NAMED_AT_MOST} more" if len(entries) > NAMED_AT_MOST else ""
            noun = "invoice" if len(entries) == 1 else "invoices"
            waiting.append(Waiting(kind, f"{len(entries)} {noun} {word}: {named}{more}",
                                   tuple(e.invoice_number for e in entries)))
    relations = RelationState(store).problems()
    if relations:
        named = ", ".join(r.subject for r in relations[:NAMED_AT_MOST])
        more = f" and {len(relations) - NAMED_AT_MOST} more" if len(relations) > NAMED_AT_MOST else ""
        noun = "relation waits" if len(relations) == 1 else "relations wait"
        waiting.append(Waiting("relations", f"{len(relations)} {noun} for a person: {named}{more}",
                               tuple(r.key for r in relations),
                               tuple(f"{r.subject}: {r.problems[0].message}" if r.problems else r.subject
                                     for r in relations)))
    return waiting


def _down_reason(engine: EngineStatus, now: datetime) -> str:
    if engine.heartbeat_at is None:
        return "no engine has run with this state folder yet (start one: pvsync daemon)"
    if engine.state == "stopped":
        return f"the engine is stopped (since {clock.shown(engine.heartbeat_at)})"
    return _stale_heartbeat(engine, now)


def _stale_heartbeat(engine: EngineStatus, now: datetime) -> str:
    seconds = int((now - engine.heartbeat_at).total_seconds())
    return f"the engine (pid {engine.pid}) stopped beating {seconds} s ago: it crashed or hangs"


# ---------------------------------------------------------------------- watchdog


def watchdog(store: Store, engine: EngineStatus, jobs: list[JobHealth], now: datetime, watch: Watch) -> list[Alert]:
    alerts = []
    if engine.state != "stopped" and engine.heartbeat_at is not None and now - engine.heartbeat_at > HEARTBEAT_STALE:
        alerts.append(Alert("heartbeat_stale", _stale_heartbeat(engine, now)))
    by_name = {job.job: job for job in jobs}
    for name, interval in watch.intervals.items():
        alert = _no_success(by_name.get(name), name, interval, engine, now)
        if alert is not None:
            alerts.append(alert)
    alerts += _failing_in_a_row(store)
    used = store.count_this_month(EBOEKHOUDEN, "GetMutaties") if watch.mutaties_budgeted else 0
    if used * 100 > watch.mutaties_budget * ALERT_PERCENT:
        alerts.append(Alert("mutaties_budget", f"e-Boekhouden GetMutaties: {used} of the month's "
                                               f"{watch.mutaties_budget} calls used (past {ALERT_PERCENT} %); "
                                               "the last tenth is kept for invoice lookups"))
    limit = watch.perfectview_daily_limit
    calls = store.count_today(PERFECTVIEW)
    if limit and calls * 100 > limit * ALERT_PERCENT:
        alerts.append(Alert("perfectview_calls", f"PerfectView: {calls} of today's {limit} calls used (past "
                                                 f"{ALERT_PERCENT} % of perfectview.daily_call_limit)"))
    return alerts


def _no_success(job: JobHealth | None, name: str, interval: timedelta, engine: EngineStatus,
                now: datetime) -> Alert | None:
    success = job.last_success if job else None
    since = success.started_at if success else engine.started_at
    if since is None or now - since <= NO_SUCCESS_FACTOR * interval:
        return None
    every = f"it runs every {format_duration(interval)}"
    if success is None:
        return Alert("no_success", f"{name} has not run through once since the engine started "
                                   f"{format_duration(now - since)} ago ({every}); see the logbook")
    return Alert("no_success", f"{name} has had no successful run for {format_duration(now - since)} ({every}; "
                               f"the last was run {success.id})")


def _failing_in_a_row(store: Store) -> list[Alert]:
    finished = [run for run in store.runs(limit=50) if run.finished_at and not run.dry_run]
    alerts = []
    for job in [*JOB_ORDER, *sorted({j for run in finished for j in run.jobs} - set(JOB_ORDER))]:
        recent = [run for run in finished if job in run.jobs][:FAILED_IN_A_ROW]
        if len(recent) == FAILED_IN_A_ROW and all(run.job_outcomes.get(job) == "failed" for run in recent):
            alerts.append(Alert("failing_in_a_row", f"{job} failed in each of the last {FAILED_IN_A_ROW} runs "
                                                    f"({', '.join(str(run.id) for run in reversed(recent))}); "
                                                    "why: pvsync log --kind run"))
    return alerts


# ---------------------------------------------------------------------- the services


def _service_error(service: str) -> re.Pattern[str]:
    # How a failed call reads (core.soap.errors.ServiceError): "<service> <Operation>[ for <record>]: ...",
    # the operation a SOAP name (GetMutaties) or a REST method and path (POST /v1/session).
    operation = r"(?:[A-Z][A-Za-z]+|(?:GET|POST|PUT|PATCH|DELETE) /[^\s:]*)"
    return re.compile(rf"{re.escape(service)} {operation}(?: for [^:]*)?: ")


def service_health(store: Store, service: str, current: Run | None, last: Run | None, *,
                   api: str | None = None) -> ServiceHealth:
    """From the logbook of the run in progress (when a call failed there already) or the last
    finished run: a failed call of this service is logged with its name and operation."""
    pattern = _service_error(service)
    calls = store.count_today(service)
    for run in (current, last):
        if run is None:
            continue
        for entry in store.logbook_page(run_id=run.id, level="WARNING", limit=500):
            found = pattern.search(entry.message)
            if found:
                message = entry.message[found.start() + len(service) + 1:]
                return ServiceHealth(service, "FAILING", run.id, entry.at, message, calls, api, run.dry_run)
    if last is None:
        return ServiceHealth(service, "UNKNOWN", None, None, "", calls, api)
    return ServiceHealth(service, "OK", last.id, last.finished_at, "", calls, api, last.dry_run)
