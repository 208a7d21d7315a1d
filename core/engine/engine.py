"""The engine: runs jobs, keeps the schedule, answers requests, and says it is alive.

The same engine runs headless (`pvsync daemon`), inside the console (embedded), and
once from `pvsync sync`. Whoever runs it must first take the state folder's lock, so
two engines never book the same invoice. Everything it does is told in the logbook;
the console reads the engine row (heartbeat, current run, progress, next due) and
writes requests, and never calls the engine directly across processes.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from core import clock
from core.config.values import format_duration
from core.engine.jobs import Job, JobResult, RunContext, registered
from core.engine.lock import EngineBusy, EngineLock
from core.engine.schedule import HEARTBEAT_SECONDS, due_at
from core.engine.services import RunServices
from core.secrets import scrub
from core.store import Request, Store, StoreError
from core.store.approvals import Approvals
from core.store.records import utc_now

PROGRESS_WRITE_SECONDS = 0.5  # progress reaches the database at most this often (plus at the end of a phase)
RETENTION_EVERY = timedelta(days=1)
NOT_STARTED = "not started"  # the summary of a job a stopping run never began
APPROVE_HINT = "Approve with `pvsync approve` or in the console (w, then a); the next run then writes."


@dataclass(frozen=True)
class JobOutcome:
    """How one job of a run ended: ok, partial (some actions failed), failed (the job
    raised), interrupted (stop or deadline), or skipped (disabled in the config)."""

    job: str
    status: str
    result: JobResult = field(default_factory=JobResult)
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class RunReport:
    run_id: int
    trigger: str
    dry_run: bool
    outcome: str
    jobs: list[JobOutcome]
    seconds: float
    error: str | None = None
    waiting: str | None = None  # why this run only planned: it waits for a person's approval

    def summary_lines(self) -> list[str]:
        kind = f"{self.trigger}, dry run" if self.dry_run else self.trigger
        lines = [f"Run {self.run_id} ({kind}): {self.outcome} in {self.seconds:.1f} s"]
        if self.waiting:
            lines[0] += "; nothing written, it waits for approval"
        for job in self.jobs:
            detail = job.error or job.result.summary or _counters_text(job.result.counters)
            lines.append(f"  {job.job:<9} {job.status:<11} {detail}".rstrip())
        if self.error and not any(job.error for job in self.jobs):
            lines.append(f"  {self.error}")
        if self.waiting:
            lines.append(f"  Waits for approval: the {self.waiting}.")
            lines.append(f"  {APPROVE_HINT}")
        return lines


def _counters_text(counters: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counters.items())


def _run_outcome(outcomes: list[JobOutcome]) -> str:
    statuses = [o.status for o in outcomes if o.status != "skipped"]
    if "interrupted" in statuses:
        return "interrupted"
    if statuses and all(status == "failed" for status in statuses):
        return "failed"
    if any(status in ("failed", "partial") for status in statuses):
        return "partial"
    return "ok"


class Engine:
    """One engine for one state folder. `acquire()` before `run()` or `serve()`; `close()` after."""

    def __init__(self, state_dir: Path, config_path: Path, *, mode: str, jobs: list[Job] | None = None,
                 poll_seconds: float = 1.0, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 services: Callable[[Any, Store], RunServices] | None = None):
        # How a run gets its service clients; tests bind them to in-process simulators.
        self.make_services = services or (lambda config, store: RunServices(config, store))
        self.state_dir = Path(state_dir)
        self.config_path = Path(config_path)
        self.mode = mode
        self.jobs = jobs if jobs is not None else registered()
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.lock = EngineLock(self.state_dir)
        self.store: Store | None = None
        self.config: Any = None
        self._findings: list | None = None  # core.assumptions' answers for the current run
        self.config_hash = ""
        self.busy: EngineBusy | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._next_purge: datetime | None = None
        self._progress: dict[str, dict[str, Any]] = {}
        self._progress_written = 0.0
        self._beside = False  # dry_run_beside(): no lock, the engine's status left to its holder
        self._handlers: dict[str, Callable[[Request], tuple[str, str]]] = {
            "sync": self._answer_sync, "reload_config": self._answer_reload,
            "retry_invoice": self._answer_retry_invoice, "choose_document": self._answer_choose_document,
            "approve": self._answer_approve, "relation_twin": self._answer_relation_twin}

    # ------------------------------------------------------------------ config

    def load_config(self) -> Any:
        """Read the config file; raises core.config.ConfigError listing every problem."""
        from core.config import config_hash, load_config

        config = load_config(self.config_path)
        self.config, self.config_hash = config, config_hash(config)
        if self.store is not None:
            self.store.min_level = config.logbook.level
        return config

    def request_reload(self) -> None:
        """Reload the config between actions (SIGHUP); safe from a signal handler."""
        self._reload.set()

    def _reload_config(self) -> tuple[str, str]:
        self._reload.clear()
        try:
            self.load_config()
        except Exception as error:  # a broken file must not stop a running daemon
            problems = [scrub(str(p)) for p in getattr(error, "problems", [])]
            message = (f"the config at {self.config_path} was not reloaded, the previous one stays in use: "
                       f"{scrub(str(error))}")
            self.store.log("ERROR", "config", message, details={"problems": problems} if problems else None)
            return "failed", message
        message = f"config reloaded from {self.config_path}"
        self.store.log("INFO", "config", message)
        return "ok", message

    # ------------------------------------------------------------------ lifecycle

    def acquire(self) -> bool:
        """Become the engine of this state folder. False (and `self.busy` says who) when
        another engine is; nothing is changed then."""
        try:
            self.lock.acquire()
        except EngineBusy as busy:
            self.busy = busy
            return False
        try:
            self._start()
        except BaseException:
            self._close_store()
            self.lock.release()
            raise
        return True

    def _start(self) -> None:
        self.store = Store.open(self.state_dir)
        problems = self.store.quick_check()
        if problems:
            raise StoreError(f"the state database {self.store.path} is damaged ({'; '.join(problems[:3])}). "
                             f"Stop here and restore a backup, or move the file away to start afresh.")
        if self.config is not None:
            self.store.min_level = self.config.logbook.level
        for run_id in self.store.interrupt_unfinished_runs("the engine stopped during this run (crash, kill or "
                                                           "power loss); its jobs run again as scheduled"):
            self.store.log("WARNING", "run", f"run {run_id} was cut off when the previous engine stopped",
                           run_id=run_id)
        if self.store.abandon_claimed_requests("the engine stopped before finishing this request; ask again"):
            self.store.log("WARNING", "request", "requests the previous engine had taken were not finished")
        self.store.update_engine(pid=os.getpid(), mode=self.mode, state="idle", current_run_id=None, progress={},
                                 started=True)
        self.store.log("INFO", "engine", f"engine started ({self.mode}, pid {os.getpid()})")
        self._maybe_purge(utc_now())
        self._beat_stop.clear()
        self._beat = threading.Thread(target=self._heartbeat_loop, name="pvsync-heartbeat", daemon=True)
        self._beat.start()

    def close(self) -> None:
        """Stop beating, mark the engine stopped and give up the lock."""
        if self.store is not None and self.lock.held:
            self._beat_stop.set()
            if self._beat is not None:
                self._beat.join()
            self.store.update_engine(state="stopped", current_run_id=None, progress={})
            self.store.log("INFO", "engine", f"engine stopped ({self.mode}, pid {os.getpid()})")
        self._close_store()
        self.lock.release()

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def request_stop(self) -> None:
        """Stop after the current action (SIGTERM); safe from a signal handler."""
        self._stop.set()

    def _heartbeat_loop(self) -> None:
        # Its own thread, so the heartbeat stays fresh while a long job works.
        while not self._beat_stop.wait(self.heartbeat_seconds):
            self.store.heartbeat()

    def _require_lock(self) -> None:
        if not self.lock.held and not self.acquire():
            raise self.busy

    # ------------------------------------------------------------------ one run

    def job_names(self) -> list[str]:
        return [job.name for job in self.jobs]

    def check_job_names(self, only: list[str] | None) -> None:
        """Refuse names that are not jobs, before anything runs."""
        unknown = sorted(set(only or []) - set(self.job_names()))
        if unknown:
            raise ValueError(f"unknown job {', '.join(unknown)}; choose from {', '.join(self.job_names())}")

    def dry_run_beside(self, trigger: str = "cli", only: list[str] | None = None, force: bool = False) -> RunReport:
        """A dry run that takes no engine lock, so it runs while the daemon holds it.

        It changes nothing on either service and leaves the engine's own state alone (its
        status row, its unfinished runs): it only adds its run, marked dry, its logbook
        lines and the calls it made to the budgets, as any run does.
        """
        self._beside = True
        self.store = Store.open(self.state_dir)
        try:
            if self.config is not None:
                self.store.min_level = self.config.logbook.level
            return self.run(trigger, only, dry_run=True, force=force)
        finally:
            self._close_store()

    def _set_engine_status(self, **values: Any) -> None:
        if not self._beside:  # a dry run beside the daemon must not overwrite the daemon's status
            self.store.update_engine(**values)

    def run(self, trigger: str = "forced", only: list[str] | None = None, dry_run: bool = False,
            force: bool = False) -> RunReport:
        """Run the jobs (all, or `only` these) once, each on its own, and record the run."""
        if not self._beside:
            self._require_lock()
        config = self.config if self.config is not None else self.load_config()
        self.check_job_names(only)
        jobs = [job for job in self.jobs if only is None or job.name in only]
        store = self.store
        # The approval gate: a run that may not write yet plans, and says what it would do.
        waiting = Approvals(store).reason_to_wait() if not dry_run and config.engine.approve_first_run else None
        if waiting is None and not dry_run and Approvals(store).waiting() is not None:
            Approvals(store).stop_waiting()  # no longer needed (e.g. the gate was switched off)
        if waiting is not None:
            # The approval lets every job write, so the person sees every job's plan, not the
            # part a schedule or --only asked for.
            dry_run, jobs = True, list(self.jobs)
        started = time.monotonic()
        # Monotonic: a clock set back or forward must not stretch or cut the run.
        deadline = started + config.engine.run_deadline.total_seconds()
        run_id = store.start_run(trigger, [job.name for job in jobs], self.config_hash, dry_run=dry_run)
        self._progress = {}
        self._set_engine_status(state="running", current_run_id=run_id, progress={})
        store.log("INFO", "run", f"run {run_id} started ({trigger}{', dry run' if dry_run else ''}): "
                                 f"{', '.join(job.name for job in jobs) or 'no jobs'}", run_id=run_id)

        def should_stop() -> bool:
            return self._stop.is_set() or time.monotonic() > deadline

        outcomes: list[JobOutcome] = []
        services = self.make_services(config, store)
        self._findings = None  # the register's answers, read once a run by the first job that needs them
        if isinstance(services, RunServices):
            services.run_id = run_id
        try:
            for job in jobs:
                outcomes.append(self._run_job(job, config, run_id, dry_run, force, should_stop, services))
        except BaseException:
            # Ctrl-C or a kill signal turned into an exception: the run must not stay "running".
            store.finish_run(run_id, "interrupted", {}, "stopped from outside (interrupt)",
                             job_outcomes={o.job: o.status for o in outcomes})
            self._set_engine_status(state="idle", current_run_id=None, progress={})
            raise
        finally:
            self._close_services(services, run_id)
        outcome = _run_outcome(outcomes)
        error = "; ".join(f"{o.job}: {o.error}" for o in outcomes if o.error) or None
        if outcome == "interrupted" and not self._stop.is_set():
            error = (f"stopped by the run deadline ({format_duration(config.engine.run_deadline)}, "
                     f"engine.run_deadline); left for the next run: {self._left_over(outcomes)}")
        report = RunReport(run_id, trigger, dry_run, outcome, outcomes, time.monotonic() - started, error, waiting)
        with store.write():  # one commit: no reader sees a finished run while the engine still says running
            store.finish_run(run_id, outcome, {o.job: o.result.counters for o in outcomes if o.result.counters},
                             error, job_outcomes={o.job: o.status for o in outcomes})
            self._set_engine_status(state="idle", current_run_id=None, progress={}, next_due=self.next_due())
        level = {"ok": "INFO", "interrupted": "WARNING", "partial": "WARNING"}.get(outcome, "ERROR")
        store.log(level, "run", f"run {run_id} {outcome} in {report.seconds:.1f} s"
                                + (f": {error}" if error else ""), run_id=run_id)
        if waiting is not None:
            self._wait_for_approval(report)
        elif not dry_run:
            self._send_alerts(config, store, run_id)
        return report

    def _wait_for_approval(self, report: RunReport) -> None:
        """Keep the plan for status and console, and say in the logbook that the run waits."""
        Approvals(self.store).wait(report.run_id, report.waiting, report.summary_lines())
        self.store.log("WARNING", "approval", f"run {report.run_id} wrote nothing: it is the {report.waiting}, so it "
                                              f"only planned and waits for approval. {APPROVE_HINT}", run_id=report.run_id)

    def _send_alerts(self, config: Any, store: Store, run_id: int) -> None:
        """After each real run: what became wrong or right since the last check is told
        (`core.engine.alerts`). A mail server that is down never fails the run."""
        from core.engine.alerts import channels_from_config, send_due_alerts
        from core.engine.health import assess, watch_from_config

        channels = channels_from_config(config)
        if channels is None:
            return
        for failure in send_due_alerts(store, assess(store, watch=watch_from_config(config)), channels):
            store.log("WARNING", "engine", f"alert not sent: {failure}; it is tried again after the next run",
                      run_id=run_id)

    @staticmethod
    def _left_over(outcomes: list[JobOutcome]) -> str:
        """The jobs a stopped run did not finish, in words: what each did before it stopped, or
        that it never started."""
        left = []
        for o in outcomes:
            if o.status == "interrupted":
                done = "not started" if o.result.summary == NOT_STARTED else f"stopped part-way ({o.result.summary})"
                left.append(f"{o.job} {done}")
        return "; ".join(left)

    def _close_services(self, services: RunServices, run_id: int) -> None:
        try:
            services.close()
        except Exception as exc:  # closing must never hide what the run did
            self.store.log("WARNING", "run", scrub(f"closing the service connections failed: {exc}"), run_id=run_id)

    def _run_job(self, job: Job, config: Any, run_id: int, dry_run: bool, force: bool,
                 should_stop: Callable[[], bool], services: RunServices) -> JobOutcome:
        store = self.store
        if not job.enabled(config):
            store.log("INFO", "run", f"{job.name} skipped: switched off in the config", run_id=run_id,
                      subject=job.name)
            return JobOutcome(job.name, "skipped", JobResult(summary="switched off in the config"))
        if should_stop():
            return JobOutcome(job.name, "interrupted", JobResult(complete=False, summary=NOT_STARTED))
        try:
            refused = self._refusal(job, config, services)
        except Exception as exc:  # the check must never be why a job that could run does not
            store.log("WARNING", "config", scrub(f"what {job.name} needs from the databases could not be checked "
                                                 f"({type(exc).__name__}: {exc}); it runs and meets it itself"),
                      run_id=run_id, subject=job.name)
            refused = ""
        if refused:
            store.log("ERROR", "config", refused, run_id=run_id, subject=job.name)
            return JobOutcome(job.name, "failed", error=refused)
        ctx = RunContext(store=store, config=config, run_id=run_id, job=job.name, dry_run=dry_run, force=force,
                         should_stop=should_stop, report_progress=self._report_progress, services=services)
        started = time.monotonic()
        try:
            result = job.run(ctx)
        except Exception as exc:
            error = scrub(f"{type(exc).__name__}: {exc}")
            store.log("ERROR", "run", f"{job.name} failed: {error}", run_id=run_id, subject=job.name,
                      details={"traceback": scrub(traceback.format_exc())})
            return JobOutcome(job.name, "failed", error=error, seconds=time.monotonic() - started)
        status = "interrupted" if not result.complete else "partial" if result.failures else "ok"
        return JobOutcome(job.name, status, result, seconds=time.monotonic() - started)

    def _refusal(self, job: Job, config: Any, services: RunServices) -> str:
        """Why `job` must not start (a required assumption failed), or "". Read-only; a service
        that does not answer leaves the job to meet that itself, as it always has."""
        from core.assumptions import check_assumptions, complete, passed_recently, refusal, remember_pass

        if not getattr(job, "checks_assumptions", False):
            return ""
        if self._findings is None:
            now = utc_now()
            if passed_recently(self.store, self.config_hash, now):
                self._findings = []
            else:
                self._findings = check_assumptions(config, services.perfectview, services.eboekhouden,
                                                   jobs=self.jobs, required_only=True, store=self.store)
                if complete(self._findings) and not any(finding.blocks for finding in self._findings):
                    remember_pass(self.store, self.config_hash, now)
        return refusal(self._findings, job.name)

    def _report_progress(self, phase: str, values: dict[str, Any]) -> None:
        self._progress[phase] = values
        now = time.monotonic()
        if now - self._progress_written >= PROGRESS_WRITE_SECONDS or values.get("done") == values.get("total"):
            self._progress_written = now
            self._set_engine_status(progress=self._progress)

    # ------------------------------------------------------------------ schedule

    def next_due(self, now: datetime | None = None) -> dict[str, datetime]:
        """When each enabled job runs next, from the runs in the database."""
        now = now or utc_now()
        due = {
            job.name: due_at(job.name, job.interval(self.config),
                             last_success=self.store.last_run(job.name, successful=True),
                             last_attempt=self.store.last_run(job.name), now=now)
            for job in self.jobs if job.enabled(self.config)
        }
        # A plan that waits for approval is made again once an interval, not at every poll.
        wait = Approvals(self.store).waiting()
        if wait is not None:
            due = {name: max(at, wait.planned_at + self._job(name).interval(self.config)) for name, at in due.items()}
        return due

    def _job(self, name: str) -> Job:
        return next(job for job in self.jobs if job.name == name)

    def _maybe_purge(self, now: datetime) -> None:
        if self.config is None or (self._next_purge and now < self._next_purge):
            return
        self._next_purge = now + RETENTION_EVERY
        days = self.config.logbook.retention_days
        removed = self.store.purge_logbook(now - timedelta(days=days))
        if removed:
            self.store.log("INFO", "engine", f"logbook: removed {removed} entries older than {days} days")

    # ------------------------------------------------------------------ serving

    def serve(self, stop: threading.Event | None = None) -> None:
        """The scheduler loop: answer requests, run due jobs, until `stop` is set or
        `request_stop()` is called. The current action always finishes first."""
        if stop is not None:
            self._stop = stop
        self._require_lock()
        if self.config is None:
            self.load_config()
        self.store.log("INFO", "engine", f"scheduler running; jobs: {', '.join(self._enabled_names()) or 'none'}")
        written_due: dict[str, datetime] | None = None
        while not self._stop.is_set():
            if self._reload.is_set():
                self._reload_config()
            self._answer_requests()
            now = utc_now()
            due = self.next_due(now)
            if due != written_due:
                self.store.update_engine(next_due=due)
                written_due = due
            ready = [name for name, at in due.items() if at <= now]
            if ready and not self._stop.is_set():
                self.run(trigger="schedule", only=ready)
                written_due = None
            self._maybe_purge(now)
            self._stop.wait(self.poll_seconds)

    def _enabled_names(self) -> list[str]:
        return [job.name for job in self.jobs if job.enabled(self.config)]

    def _answer_requests(self) -> None:
        while not self._stop.is_set():
            request = self.store.claim_request(kinds=list(self._handlers))
            if request is None:
                return
            try:
                outcome, message = self._handlers[request.kind](request)
            except Exception as exc:
                outcome, message = "failed", scrub(f"{type(exc).__name__}: {exc}")
                self.store.log("ERROR", "request", f"request {request.id} ({request.kind}) failed: {message}")
            self.store.finish_request(request.id, outcome, message)

    def _answer_sync(self, request: Request) -> tuple[str, str]:
        payload = request.payload
        report = self.run(trigger="forced", only=payload.get("only"), dry_run=bool(payload.get("dry_run")),
                          force=bool(payload.get("force")))
        return report.outcome, report.summary_lines()[0]

    def _answer_reload(self, request: Request) -> tuple[str, str]:
        return self._reload_config()

    def _answer_approve(self, request: Request) -> tuple[str, str]:
        """Record the approval ({"by": OS user}), then run now: the writes the person saw planned."""
        message = approve(self.store, str(request.payload.get("by") or "unknown"))
        if message is None:
            return "ok", "nothing waits for approval"
        report = self.run(trigger="approved")
        return report.outcome, f"{message}; {report.summary_lines()[0]}"

    def _answer_relation_twin(self, request: Request) -> tuple[str, str]:
        from core.sync.twin_commands import answer_twin_request

        return answer_twin_request(self.store, request.payload)

    # The invoice commands live with the invoice job; imported here, when first needed,
    # because core/sync imports this package for RunContext and JobResult.
    def _answer_retry_invoice(self, request: Request) -> tuple[str, str]:
        from core.sync.invoice_commands import answer_retry_request

        return answer_retry_request(self.store, request.payload)

    def _answer_choose_document(self, request: Request) -> tuple[str, str]:
        from core.sync.invoice_commands import answer_choose_document_request

        return answer_choose_document_request(self.store, request.payload)


def approve(store: Store, by: str) -> str | None:
    """Let the engine write the plan that waits: the approval of `by`, in the store and the
    logbook. None (and nothing recorded) when no plan waits: a person approves what they saw."""
    approvals = Approvals(store)
    if approvals.waiting() is None:
        return None
    approval = approvals.approve(by)
    return f"approved by {approval.approved_by} at {clock.shown(approval.approved_at)}"
