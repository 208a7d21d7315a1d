"""The `pvsync` command: the console, the daemon, and the commands scripts and admins use.

One module-level function per command (`cmd_<name>`), each wired to its subparser in
`build_parser()`; a new command is a new function and a few lines there. Results go to
stdout, problems to stderr, and the exit code says which (see `pvsync status --help`).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from datetime import datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

from core import clock, paths
from core.clock import format_duration  # noqa: F401  (the name commands and tests have used)
from core.secrets import scrub
from core.soap.errors import ServiceError

EXIT_OK, EXIT_FAILED = 0, 1
EXIT_BUSY = 75  # EX_TEMPFAIL: another engine holds this state folder; try again later
EXIT_READER_LEFT = 141  # 128 + SIGPIPE: what a shell reports for `cat big | head`
FOLLOW_POLL_SECONDS = 0.5

GLOBAL_HELP = f"""\
examples:
  pvsync                              open the console
  pvsync demo                         the console against simulated services
  pvsync daemon                       run the engine headless (systemd, journald)
  pvsync sync --only invoices         sync invoices once, now
  pvsync status --json                health for monitoring (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
  pvsync log --follow --level WARNING
  pvsync config check

Config file: --config, else ${paths.CONFIG_ENV}, else the platform default (pvsync config check says which).
State folder: --state-dir, else ${paths.STATE_DIR_ENV}, else the platform default.
"""


# --------------------------------------------------------------------------- helpers


def _config_path(args: argparse.Namespace) -> Path:
    return paths.config_path(args.config)


def _state_dir(args: argparse.Namespace) -> Path:
    return paths.state_dir(args.state_dir)


def _use_display_zone(args: argparse.Namespace) -> None:
    from core.config.display import use_display_zone_of

    path = getattr(args, "path", None)  # `pvsync config check PATH` shows times of that file's zone
    use_display_zone_of(Path(path).expanduser() if path else _config_path(args))


def _err(text: str) -> None:
    print(scrub(text), file=sys.stderr)


def _missing_config(path: Path) -> str:
    return (f"No config file at {path}.\n"
            f"pvsync looks at --config, then ${paths.CONFIG_ENV}, then {paths.config_path(None)}.\n"
            f"Create one: run `pvsync` and follow the setup screen, or copy sample_config.toml to {path} "
            f"and fill it in.")


def _problem_lines(error: Exception) -> list[str]:
    problems = getattr(error, "problems", None)
    if not problems:
        return [str(error)]
    lines = []
    for problem in problems:
        where = f"{problem.file}:{problem.line}" if problem.line else f"{problem.file}"
        fix = f" — {problem.fix}" if problem.fix else ""
        lines.append(f"{where} {problem.key}: {problem.message}{fix}")
    return lines


def _config_or_none(path: Path, load: Callable[[], Any]) -> Any | None:
    """`load()`'s config, or None after telling on stderr what is wrong and how to fix it."""
    from core.config import ConfigError

    if not path.exists():
        _err(_missing_config(path))
        return None
    try:
        return load()
    except ConfigError as error:
        _err(f"The config at {path} has problems:")
        for line in _problem_lines(error):
            _err(f"  {line}")
        return None


def _load_config(path: Path) -> Any | None:
    from core.config import load_config

    return _config_or_none(path, lambda: load_config(path))


def _local(moment: datetime | None, *, seconds: bool = False) -> str:
    return clock.shown(moment, seconds=seconds)


_SPAN = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_SPAN_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """'2h', '30m', '1d' back from now, or an ISO date/time (display-zone time unless it says otherwise)."""
    match = _SPAN.match(text)
    now = now or clock.now()
    if match:
        return now - timedelta(**{_SPAN_UNITS[match.group(2).lower()]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use a span back from now such as 30m, 2h, 1d, "
            f"or a date/time such as 2026-05-09 or 2026-05-09T14:30") from None
    return moment if moment.tzinfo else clock.local(moment)


def _level(text: str) -> str:
    from core.store.records import level_name

    try:
        return level_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# --------------------------------------------------------------------------- the console


def launch_console(config_path: Path, state_dir: Path) -> int:
    from tui.app import run_console

    return run_console(config_path=config_path, state_dir=state_dir) or EXIT_OK


def launch_demo(api: str = "rest") -> int:
    from tui.app import run_demo

    return run_demo(api=api) or EXIT_OK


def cmd_console(args: argparse.Namespace) -> int:
    return launch_console(_config_path(args), _state_dir(args))


def cmd_demo(args: argparse.Namespace) -> int:
    if args.headless:
        import shutil
        import tempfile

        from core.demo.scenario import run_headless

        folder = Path(tempfile.mkdtemp(prefix="pvsync-demo-"))
        try:
            return run_headless(folder, api=args.api)
        finally:
            # Ctrl-C and SIGTERM end the engine's loop, so this runs: no demo folders pile up in /tmp.
            shutil.rmtree(folder, ignore_errors=True)
    return launch_demo(args.api)


# --------------------------------------------------------------------------- engine commands


def cmd_daemon(args: argparse.Namespace) -> int:
    from core.engine import Engine
    from core.secrets import quiet_wire_loggers
    from core.store import logging_to_stderr

    engine = Engine(_state_dir(args), _config_path(args), mode="daemon")
    if _config_or_none(engine.config_path, engine.load_config) is None:
        return EXIT_FAILED
    quiet_wire_loggers()
    with logging_to_stderr(engine.config.logbook.level, daemon=True):
        if not engine.acquire():
            _err(f"pvsync daemon: not started: {engine.busy}")
            return EXIT_BUSY
        signal.signal(signal.SIGTERM, lambda *_: engine.request_stop())
        signal.signal(signal.SIGINT, lambda *_: engine.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: engine.request_reload())
        try:
            engine.serve()
        finally:
            engine.close()
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from core.engine import Engine
    from core.secrets import quiet_wire_loggers
    from core.store import logging_to_stderr

    engine = Engine(_state_dir(args), _config_path(args), mode="cli")
    if _config_or_none(engine.config_path, engine.load_config) is None:
        return EXIT_FAILED
    only = sorted({name.strip() for value in args.only or [] for name in value.split(",") if name.strip()}) or None
    try:
        engine.check_job_names(only)
    except ValueError as error:
        _err(f"pvsync sync: {error}")
        return EXIT_FAILED
    quiet_wire_loggers()
    with logging_to_stderr(engine.config.logbook.level):
        if args.dry_run:
            # It changes nothing, so it needs no lock: it runs while the daemon runs.
            report = engine.dry_run_beside(trigger="cli", only=only, force=args.force)
        else:
            if not engine.acquire():
                _err(f"pvsync sync: not run: {engine.busy}")
                return EXIT_BUSY
            try:
                report = engine.run(trigger="cli", only=only, force=args.force)
            finally:
                engine.close()
    print("\n".join(report.summary_lines()))
    # A run that waits for approval wrote nothing: not what a script that asked for a sync wanted.
    return EXIT_OK if report.outcome == "ok" and not report.waiting else EXIT_FAILED


def cmd_approve(args: argparse.Namespace) -> int:
    import getpass

    from core.engine.engine import approve
    from core.engine.health import engine_up
    from core.store.approvals import Approvals
    from core.store.records import utc_now

    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    with store:
        approvals = Approvals(store)
        wait = approvals.waiting()
        if wait is not None:
            print(f"Waiting since {_local(wait.since)}: the {wait.reason}.")
            print(f"Plan (made {_local(wait.planned_at)}):")
            print("\n".join(f"  {line}" for line in wait.summary if not line.lstrip().startswith("Approve with")))
        if args.show:
            return EXIT_OK
        if wait is None:
            if approvals.reason_to_wait() is None:
                print("Nothing waits for approval: the engine writes on its schedule.")
            else:
                print("No plan waits yet: the next run only plans and waits for you (`pvsync sync` makes it now); "
                      "approve once you have seen it.")
            return EXIT_OK
        by = getpass.getuser()
        if not engine_up(store.engine_status(), utc_now()):
            print(f"{approve(store, by)}. No engine runs now: the next run writes (pvsync sync, or start the daemon).")
            return EXIT_OK
        # A daemon (or a console) holds the state folder: it takes the approval as a request and runs at once.
        before = approvals.last()
        store.add_request("approve", {"by": by})
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            latest = approvals.last()
            if latest is not None and (before is None or latest.id != before.id):
                print(f"approved by {latest.approved_by} at {_local(latest.approved_at)}; the engine writes now "
                      "(pvsync status, pvsync log --follow)")
                return EXIT_OK
            time.sleep(FOLLOW_POLL_SECONDS)
    print(f"Asked the engine to write as approved by {by}; it has not taken the request yet (it finishes its "
          "current run first). pvsync status shows when it has.")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """A monitoring check as it is: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and a first
    line that says why. It also sends the alerts that are due (`core.engine.alerts`), so a
    cron job running it tells a person when the engine stops beating."""
    from core.engine.health import UNKNOWN, assess, read_watch
    from core.store import StateMissing, Store, StoreError

    try:
        store = Store.open(_state_dir(args), create=False)
    except StoreError as error:
        reason = str(error) if isinstance(error, StateMissing) else f"the state cannot be read: {error}"
        if args.json:
            print(json.dumps({"healthy": False, "status": "UNKNOWN", "summary": f"PVSYNC UNKNOWN - {reason}",
                              "exit_code": UNKNOWN, "problems": [reason]}, indent=2))
        else:
            print(f"PVSYNC UNKNOWN - {reason}")
        return UNKNOWN
    with store:
        try:
            health = assess(store, watch=read_watch(_config_path(args)))
        except StoreError as error:
            print(f"PVSYNC UNKNOWN - the state cannot be read: {error}")
            return UNKNOWN
        _send_due_alerts(args, store, health)
    if args.json:
        print(json.dumps(health.to_json(), indent=2))
    else:
        print("\n".join([health.summary(), *_status_lines(health, _state_dir(args))]))
    return health.exit_code


def _send_due_alerts(args: argparse.Namespace, store: Any, health: Any) -> None:
    """Alerts never decide the check's answer: a mail server that is down is said on stderr."""
    from core.engine.alerts import AlertsUnreadable, alert_settings, send_due_alerts

    try:
        settings = alert_settings(_config_path(args))
    except AlertsUnreadable as unreadable:
        _err(f"pvsync status: {unreadable}")
        return
    if settings is None:
        return
    for failure in send_due_alerts(store, health, settings):
        _err(f"pvsync status: alert not sent: {failure}")


def _status_lines(health: Any, state_dir: Path) -> list[str]:
    engine = health.engine
    lines = [f"State:    {state_dir}"]
    if health.engine_up:
        age = int((health.checked_at - engine.heartbeat_at).total_seconds())
        lines.append(f"Engine:   up ({engine.mode}, pid {engine.pid}, {engine.state}), heartbeat {age} s ago")
    else:
        lines.append("Engine:   DOWN")
    if health.engine_up and engine.current_run_id:
        phases = ", ".join(f"{phase} {p.get('done', 0)}/{p.get('total', 0)}" for phase, p in engine.progress.items())
        lines.append(f"Running:  run {engine.current_run_id}" + (f" ({phases})" if phases else ""))
    lines.append("Jobs:")
    for job in health.jobs:
        if job.last_run is None:
            last = "never run"
        else:
            last = f"last {job.last_run.job_outcomes.get(job.job, job.last_run.outcome)} " \
                   f"{_local(job.last_run.started_at)} (run {job.last_run.id})"
        due = f"next {_local(job.next_due)}" if job.next_due else "not scheduled"
        lines.append(f"  {job.job:<10} {last:<40} {due}{'  OVERDUE' if job.overdue else ''}")
    if health.last_run:
        run = health.last_run
        lines.append(f"Last run: {run.id} ({run.trigger}) {run.outcome} at {_local(run.finished_at)}"
                     + (f": {run.error}" if run.error else ""))
    if health.approval:
        lines.append(f"Waiting:  {health.approval_text()} (pvsync approve --show lists the plan)")
    for number, service in enumerate(health.services):
        when = _local(service.at) if service.at else ""
        lines.append(f"{'Links:' if number == 0 else '':<10}{service.service:<13} {service.verdict(when)}")
    lines += [f"Alert:    {alert.message}" for alert in health.alerts if alert.message not in health.problems]
    lines += [f"Waiting:  {waiting.summary}" for waiting in health.waiting]
    verdict = "healthy" if not health.problems else "; ".join(health.problems)
    lines.append(f"Health:   {verdict} ({health.status}, exit {health.exit_code})")
    return lines


def _print_entry(entry: Any) -> None:
    where = f"{entry.kind}[{entry.subject}]" if entry.subject else entry.kind
    run = f" (run {entry.run_id})" if entry.run_id else ""
    print(f"{_local(entry.at, seconds=True)} {entry.level:<7} {where} {entry.message}{run}", flush=True)


def cmd_log(args: argparse.Namespace) -> int:
    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    filters = {"level": args.level, "kinds": args.kind or None}
    with store:
        last_id = 0
        if args.since:
            while page := store.logbook_page(after_id=last_id, limit=500, since=args.since, **filters):
                for entry in page:
                    _print_entry(entry)
                last_id = page[-1].id
        else:
            page = store.logbook_page(limit=args.lines, **filters)
            for entry in reversed(page):
                _print_entry(entry)
            if page:
                last_id = page[0].id
        if not args.follow:
            return EXIT_OK
        # Follow from the last entry printed, not from the newest in the logbook: one
        # written between the read above and this line must still be shown.
        seen_version = None
        try:
            while True:
                time.sleep(FOLLOW_POLL_SECONDS)
                version = store.data_version()
                if version == seen_version:
                    continue
                seen_version = version
                while page := store.logbook_page(after_id=last_id, limit=500, **filters):
                    for entry in page:
                        _print_entry(entry)
                    last_id = page[-1].id
        except KeyboardInterrupt:
            return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from core.assumptions import check_assumptions, fingerprint, remember_fingerprint
    from core.assumptions import report
    from core.engine.services import RunServices, check_services, check_vat_ledgers
    from core.store import Store

    config = _load_config(_config_path(args))
    if config is None:
        return EXIT_FAILED
    # The calls count against the services' budgets, so they are metered like a run's.
    with Store.open(_state_dir(args)) as store:
        checks = check_services(config, meter=store)
        findings = []
        connected = all(check.ok for check in checks)
        if connected:
            services = RunServices(config, store)
            try:
                findings = check_assumptions(config, services.perfectview, services.eboekhouden)
                if config.vat.mappings:  # the mapping's ledgers against the administration's chart
                    checks.append(check_vat_ledgers(config, eboekhouden=services.eboekhouden()))
            finally:
                services.close()
            remember_fingerprint(store, findings)
    ok = all(check.ok for check in checks) and not any(finding.blocks for finding in findings)
    if args.json:
        result = {"services": [{"service": c.service, "ok": c.ok, "message": c.message} for c in checks],
                  **report.as_json(findings, fingerprint(findings) if findings else "")}
        print(scrub(json.dumps({**result, "ok": ok}, indent=2, ensure_ascii=False)))
        return EXIT_OK if ok else EXIT_FAILED
    for check in checks:
        print(scrub(f"{check.service:<13} {'OK' if check.ok else 'FAILED':<7} {check.message}"))
    if not connected:
        print("The assumptions about the databases are checked once both connections work.")
        return EXIT_FAILED
    print("\nWhat pvsync assumes about your databases (README: the same list, with why):")
    print(scrub("\n".join(report.lines(findings))))
    print(scrub(report.summary(findings)))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_config_check(args: argparse.Namespace) -> int:
    from core.engine import registered

    path = Path(args.path).expanduser() if args.path else _config_path(args)
    config = _load_config(path)
    if config is None:
        return EXIT_FAILED
    print(f"OK: {path}")
    eb = config.eboekhouden
    print(f"  e-Boekhouden over the {eb.api.upper()} API at {eb.address}")
    for notice in config.notices:
        print(f"  note: {notice}")
    for job in registered():
        state = "on" if job.enabled(config) else "off"
        print(f"  {job.name:<10} {state:<4} every {format_duration(job.interval(config))}")
    print(f"  a run stops after {format_duration(config.engine.run_deadline)}; the logbook keeps "
          f"{config.logbook.retention_days} days at {config.logbook.level} and above")
    _print_vat_warnings(config)
    mapped = config.perfectview.fields.names
    if mapped:
        print(f"  PerfectView fields mapped: {', '.join(f'{key} = {value}' for key, value in mapped.items())}")
    print("  whether the databases have these names: pvsync check")
    return EXIT_OK


def _print_vat_warnings(config: Any) -> None:
    """Offline, only the ledger codes can be judged; `pvsync check` compares them with the
    administration's chart (and refuses balance, bank, debtors and creditors ledgers)."""
    from core.sync.vat_guard import mapping_findings

    for _, text in mapping_findings(config.vat.mappings):
        print(f"  Warning: {text}")


def _open_state(args: argparse.Namespace):
    """The state store of an engine that has run at least once, or None after saying why."""
    from core.store import StateMissing, Store

    try:
        return Store.open(_state_dir(args), create=False)
    except StateMissing as missing:
        _err(str(missing))
        return None


def cmd_invoices_list(args: argparse.Namespace) -> int:
    from core.sync.invoice_commands import InvoiceCommandError, list_invoices

    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    with store:
        try:
            listing = list_invoices(store, args.state)
        except InvoiceCommandError as error:
            _err(f"pvsync invoices list: {error}")
            return EXIT_FAILED
    from core.sync.invoice_commands import InvoiceListing

    print(InvoiceListing.header())
    for item in listing:
        print(item.line())
    return EXIT_OK


def _invoice_command(args: argparse.Namespace, action: Callable[[Any], str]) -> int:
    from core.sync.invoice_commands import InvoiceCommandError

    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    with store:
        try:
            print(action(store))
        except InvoiceCommandError as error:
            _err(f"pvsync invoices: {error}")
            return EXIT_FAILED
    return EXIT_OK


def cmd_invoices_retry(args: argparse.Namespace) -> int:
    from core.sync.invoice_commands import retry_invoice

    return _invoice_command(args, lambda store: retry_invoice(store, args.number))


def cmd_invoices_choose_document(args: argparse.Namespace) -> int:
    from core.sync.invoice_commands import choose_document

    return _invoice_command(args, lambda store: choose_document(store, args.number, args.attachment))


def cmd_relations_proposals(args: argparse.Namespace) -> int:
    from core.sync.twin_commands import list_proposals

    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    with store:
        print("\n".join(list_proposals(store, everything=args.all)))
    return EXIT_OK


def _decide_twin(args: argparse.Namespace, decision: str) -> int:
    """Accept or reject a proposed twin: the running engine takes it as a request (and syncs
    relations at once); without one it is recorded here for the next run."""
    import getpass

    from core.engine.health import engine_up
    from core.store.records import utc_now
    from core.sync.twin_commands import answer_twin_request

    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    payload = {"code": args.code, "decision": decision, "relation": getattr(args, "relation", "") or "",
               "by": getpass.getuser()}
    with store:
        if not engine_up(store.engine_status(), utc_now()):
            outcome, message = answer_twin_request(store, payload)
        else:
            request_id = store.add_request("relation_twin", payload)
            deadline = time.monotonic() + args.wait
            while (request := store.request(request_id)).state != "done" and time.monotonic() < deadline:
                time.sleep(FOLLOW_POLL_SECONDS)
            if request.state != "done":
                print(f"Asked the engine to {decision} the proposal for {args.code}; it has not taken the request "
                      "yet (it finishes its current run first). pvsync relations proposals --all shows when it has.")
                return EXIT_OK
            outcome, message = request.outcome, request.message
    if outcome != "ok":
        _err(f"pvsync relations {decision}: {message}")
        return EXIT_FAILED
    print(message)
    return EXIT_OK


def cmd_relations_accept(args: argparse.Namespace) -> int:
    return _decide_twin(args, "accept")


def cmd_relations_reject(args: argparse.Namespace) -> int:
    return _decide_twin(args, "reject")


def cmd_report_open_items(args: argparse.Namespace) -> int:
    from core.engine.services import RunServices
    from core.sync.open_items_report import open_items_report

    config = _load_config(_config_path(args))
    if config is None:
        return EXIT_FAILED
    store = _open_state(args)
    if store is None:
        return EXIT_FAILED
    with store:
        services = RunServices(config, store)
        try:
            report = open_items_report(store, services.eboekhouden(), services.perfectview(), config)
        except ServiceError as error:
            _err(f"pvsync report open-items: {error}")
            return EXIT_FAILED
        finally:
            services.close()
    print(report.as_json() if args.json else "\n".join(report.as_lines()))
    return EXIT_OK if report.in_step else EXIT_FAILED


def cmd_simulate(args: argparse.Namespace) -> int:
    from core.eboekhouden.rest.sim_wire import REST_FAULT_KINDS
    from core.soap.simulator import FAULT_KINDS, Knobs

    eboekhouden = args.service == "eboekhouden"
    try:
        # e-Boekhouden serves the REST API too, which knows one fault more (throttle: 429).
        Knobs.parse_faults(args.faults, REST_FAULT_KINDS if eboekhouden else FAULT_KINDS)
    except ValueError as error:
        _err(f"pvsync simulate: --faults: {error}")
        return EXIT_FAILED
    if args.api and not eboekhouden:
        _err("pvsync simulate: --api is for eboekhouden only (PerfectView has one API)")
        return EXIT_FAILED
    if args.variant != "standard" and (args.service != "perfectview" or args.seed != "empty"):
        _err("pvsync simulate: --variant is for perfectview with --seed empty")
        return EXIT_FAILED
    options = {"api": args.api or "soap"} if eboekhouden else {"variant": args.variant}
    simulator = import_module("core.eboekhouden.simulated_service" if eboekhouden else f"core.{args.service}.simulator")
    simulator.serve(port=args.port, seed=args.seed, latency_ms=args.latency_ms, faults=args.faults,
                    state=str(args.state) if args.state else None, **options)
    return EXIT_OK


# --------------------------------------------------------------------------- the parser


def _command(subparsers: Any, parent: argparse.ArgumentParser, name: str, handler: Callable[..., int] | None,
              summary: str, epilog: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, parents=[parent], help=summary, description=summary, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    # The global options work before and after the command (`pvsync --state-dir X status`
    # and `pvsync status --state-dir X`); SUPPRESS keeps a subcommand from resetting them.
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"config file (default: ${paths.CONFIG_ENV}, else the platform default)")
    parent.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help=f"state folder (default: ${paths.STATE_DIR_ENV}, else the platform default)")
    parser = argparse.ArgumentParser(
        prog="pvsync", parents=[parent], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keeps PerfectView CRM Online and e-Boekhouden.nl in step: relations, sales invoices, "
                    "payments. Without a command it opens the console.",
        epilog=GLOBAL_HELP)
    parser.set_defaults(handler=cmd_console)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = _command(commands, parent, "demo", cmd_demo, "open the console against simulated services",
                    "examples:\n  pvsync demo\n  pvsync demo --headless   # the engine and no console\n"
                    "  pvsync demo --api soap   # e-Boekhouden over SOAP instead of REST")
    demo.add_argument("--headless", action="store_true",
                      help="run the demo world with the engine and no console; prints where config and state are")
    demo.add_argument("--api", choices=["rest", "soap"], default="rest",
                      help="the e-Boekhouden API pvsync talks to (default rest, as a new setup does)")
    _command(commands, parent, "daemon", cmd_daemon, "run the engine headless (for systemd)",
             "Logs every event to stderr (journald adds the time). SIGTERM stops after the current action,\n"
             "SIGHUP reloads the config. Exits 75 when another engine holds this state folder.\n\n"
             "example:\n  pvsync daemon --config /etc/pvsync/config.toml --state-dir /var/lib/pvsync")

    sync = _command(commands, parent, "sync", cmd_sync, "run the jobs once, now",
                    "exit codes: 0 the run went well; 1 it failed or partly failed (see pvsync log);\n"
                    "            75 another engine (daemon or console) holds this state folder\n"
                    "            (--dry-run changes nothing and runs beside it).\n\n"
                    "examples:\n  pvsync sync\n  pvsync sync --only invoices --dry-run\n"
                    "  pvsync sync --only relations,invoices")
    sync.add_argument("--dry-run", action="store_true", help="read and plan, but change nothing")
    sync.add_argument("--only", action="append", metavar="JOB",
                      help="relations, invoices or payments (repeat or separate with commas)")
    sync.add_argument("--force", action="store_true",
                      help="go ahead even when a plan would change more than the configured share of records")

    status = _command(commands, parent, "status", cmd_status, "is the engine healthy? (for monitoring too)",
                      "A monitoring check as it is (Nagios/Icinga/Zabbix plugin convention); the first line\n"
                      "is a one-line summary, e.g. PVSYNC WARNING - 1 invoice blocked: F2026-0042 (...).\n"
                      "exit codes: 0 OK; 1 WARNING: something waits for a person (blocked or unknown invoices,\n"
                      "            relation problems, a call budget past 80 %); 2 CRITICAL: the engine is down\n"
                      "            (not running, or no heartbeat for 15 s), the last run failed, or a job is\n"
                      "            overdue; 3 UNKNOWN: the state folder cannot be read.\n"
                      "It also sends the [alerts] that are due, so a cron job running it reports a stopped engine.\n\n"
                      "examples:\n  pvsync status\n  pvsync status --json | jq .problems")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    log = _command(commands, parent, "log", cmd_log, "read the logbook",
                   "examples:\n  pvsync log\n  pvsync log --since 2h --level WARNING\n"
                   "  pvsync log --since 2026-05-09T08:00 --kind invoice\n  pvsync log --follow")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new entries (Ctrl-C stops)")
    log.add_argument("--since", type=parse_when, metavar="WHEN",
                     help="from this moment: 30m, 2h, 1d back from now, or an ISO date/time")
    log.add_argument("--level", type=_level, metavar="L", help="DEBUG, INFO, WARNING or ERROR and above")
    log.add_argument("--kind", action="append", metavar="KIND",
                     help="only this kind (engine, run, relation, invoice, payment, config, request)")
    log.add_argument("--lines", "-n", type=int, default=50, metavar="N",
                     help="without --since: the last N entries (default 50)")

    approve_parser = _command(
        commands, parent, "approve", cmd_approve, "let the engine write the plan that waits for approval",
        "The first run against an administration, and the first after pvsync check found changed\n"
        "assumptions, only plan and wait ([engine] approve_first_run). This shows the plan and approves\n"
        "it as you (the OS user); the approval is kept in the state database and the logbook. Beside a\n"
        "running daemon or console the engine takes the approval and writes at once.\n\n"
        "examples:\n  pvsync approve --show\n  pvsync approve")
    approve_parser.add_argument("--show", action="store_true", help="only show the plan that waits")
    approve_parser.add_argument("--wait", type=float, default=30.0, metavar="S",
                                help="beside a running engine: how long to wait for it to take the approval")

    check = _command(commands, parent, "check", cmd_check,
                     "test both connections, then every assumption about the two databases (read-only)",
                     "Per assumption: OK, or what is missing with the nearest names the database has and the\n"
                     "config lines that would use them. A * marks what only switched-off jobs need.\n\n"
                     "exit codes: 0 both services accept the credentials and nothing a switched-on job needs\n"
                     "            is missing; 1 otherwise.\n\n"
                     "examples:\n  pvsync check\n  pvsync check --json | jq '.assumptions[] | select(.status != \"ok\")'")
    check.add_argument("--json", action="store_true", help="machine-readable output")

    config = _command(commands, parent, "config", None, "work with the config file",
                      "example:\n  pvsync config check")
    config_commands = config.add_subparsers(title="commands", metavar="COMMAND", required=True)
    config_check = _command(config_commands, parent, "check", cmd_config_check,
                            "list every problem in a config file, or say OK",
                            "exit codes: 0 OK; 1 problems (each as file:line key: message — fix).\n\n"
                            "examples:\n  pvsync config check\n  pvsync config check ./config.toml")
    config_check.add_argument("path", nargs="?", metavar="PATH", help="the file (default: the usual config)")

    invoices = _command(commands, parent, "invoices", None, "list invoices, retry one, choose its document",
                        "examples:\n  pvsync invoices list --state pending\n  pvsync invoices retry F2026-0042\n"
                        "  pvsync invoices choose-document F2026-0042 factuur.pdf")
    invoice_commands = invoices.add_subparsers(title="commands", metavar="COMMAND", required=True)
    listing = _command(invoice_commands, parent, "list", cmd_invoices_list, "the invoice journal, one line each",
                       "states: seen, blocked, ready, booking, unknown, booked, paid, or pending (everything that "
                       "waits).\n\nexample:\n  pvsync invoices list --state blocked")
    listing.add_argument("--state", metavar="STATE", help="only invoices in this state")
    retry = _command(invoice_commands, parent, "retry", cmd_invoices_retry,
                     "try an invoice again in the next run (a blocked one is checked again first)",
                     "example:\n  pvsync invoices retry F2026-0042")
    retry.add_argument("number", metavar="NUMBER", help="the invoice number")
    choose = _command(invoice_commands, parent, "choose-document", cmd_invoices_choose_document,
                      "say which attachment is the invoice document to send to e-Boekhouden's archive",
                      "example:\n  pvsync invoices choose-document F2026-0042 F2026-0042.pdf")
    choose.add_argument("number", metavar="NUMBER", help="the invoice number")
    choose.add_argument("attachment", metavar="ATTACHMENT", help="the attachment's id or file name")

    relations = _command(commands, parent, "relations", None,
                         "proposed twins: e-Boekhouden customers PerfectView most likely has already",
                         "An e-Boekhouden customer to import whose twin PerfectView holds without a Debiteurnummer\n"
                         "(same IBAN, KvK number, e-mail address, or name and postcode) is proposed, not imported.\n\n"
                         "examples:\n  pvsync relations proposals\n  pvsync relations accept 1004\n"
                         "  pvsync relations accept 1004 --relation 3f2a…   # one of several candidates\n"
                         "  pvsync relations reject 1004")
    relation_commands = relations.add_subparsers(title="commands", metavar="COMMAND", required=True)
    proposals = _command(relation_commands, parent, "proposals", cmd_relations_proposals,
                         "the proposed twins that wait for a decision, each with its evidence",
                         "example:\n  pvsync relations proposals --all")
    proposals.add_argument("--all", action="store_true", help="also the proposals decided already")
    accept = _command(relation_commands, parent, "accept", cmd_relations_accept,
                      "link the customer to its PerfectView twin (fills the Debiteurnummer there)",
                      "example:\n  pvsync relations accept 1004")
    accept.add_argument("code", metavar="CODE", help="the e-Boekhouden relation code")
    accept.add_argument("--relation", metavar="ID", help="the PerfectView relation, when there are several")
    reject = _command(relation_commands, parent, "reject", cmd_relations_reject,
                      "not a twin: import the customer as a new PerfectView relation",
                      "example:\n  pvsync relations reject 1004")
    reject.add_argument("code", metavar="CODE", help="the e-Boekhouden relation code")
    for decide in (accept, reject):
        decide.add_argument("--wait", type=float, default=30.0, metavar="S",
                            help="beside a running engine: how long to wait for it to take the decision")

    report = _command(commands, parent, "report", None, "reports that compare both sides",
                      "example:\n  pvsync report open-items")
    report_commands = report.add_subparsers(title="commands", metavar="COMMAND", required=True)
    open_items = _command(report_commands, parent, "open-items", cmd_report_open_items,
                          "invoices paid on one side and open on the other, and open items without an invoice",
                          "exit codes: 0 both sides agree; 1 differences (listed) or an error.\n\n"
                          "examples:\n  pvsync report open-items\n  pvsync report open-items --json")
    open_items.add_argument("--json", action="store_true", help="the report as JSON")

    simulate = _command(commands, parent, "simulate", cmd_simulate,
                        "serve a simulated e-Boekhouden or PerfectView on a local port",
                        "e-Boekhouden is served with both its APIs on one administration: REST under /v1/, SOAP "
                        "at /soap.asmx;\n--api says which one the printed `url` is.\n\n"
                        "examples:\n  pvsync simulate eboekhouden --port 8081\n"
                        "  pvsync simulate eboekhouden --port 8081 --api rest --faults throttle=0.1\n"
                        "  pvsync simulate perfectview --port 8082 --seed empty --faults lost=0.05,http500=0.02")
    simulate.add_argument("service", choices=["eboekhouden", "perfectview"])
    simulate.add_argument("--api", choices=["rest", "soap"], metavar="API",
                          help="e-Boekhouden: the API whose address is printed as `url`: rest or soap (default soap)")
    simulate.add_argument("--port", type=int, required=True, metavar="N")
    simulate.add_argument("--seed", choices=["demo", "empty"], default="demo", help="start data (default demo)")
    simulate.add_argument("--latency-ms", type=float, default=0.0, metavar="L", help="delay added to each call")
    simulate.add_argument("--faults", default="", metavar="SPEC",
                          help="fault rates per call, e.g. lost=0.05,http500=0.02 (or all=0.1)")
    simulate.add_argument("--state", type=Path, metavar="FILE", help="keep the simulated data in this file")
    simulate.add_argument("--variant", choices=["standard", "custom"], default="standard",
                          help="perfectview only: 'custom' is a database whose labels, relation types, workflow and "
                               "steps differ from pvsync's defaults (starts empty: use --seed empty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Not set_defaults(): the parent's actions are shared, so that would reset them in every subcommand.
    args.config = getattr(args, "config", None)
    args.state_dir = getattr(args, "state_dir", None)
    _use_display_zone(args)
    try:
        code = args.handler(args)
        sys.stdout.flush()  # here, not at exit, so a reader that left is noticed below
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """`pvsync log | head`: the reader has all it wanted. End quietly, as `cat` does (128 + SIGPIPE),
    with stdout pointed at /dev/null so Python's own flush at exit has nothing left to complain about."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_READER_LEFT
