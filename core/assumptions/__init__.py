"""The assumptions register: every fact about the two databases pvsync relies on and a real
administration may answer differently, checked read-only against the live services.

    check_assumptions(config, perfectview, eboekhouden) -> [Finding]   (pvsync check, setup, runs)
    refusal(findings, job)        -> why a job must not start, or ""
    fingerprint(findings)         -> what the databases answered, as a short hash
    remember_fingerprint(store, findings) / last_fingerprint(store)

PerfectView keeps its fields, relation types, workflows and steps per database and their
real labels are not public, so pvsync's defaults are assumptions; meeting a customer's
database must name every mismatch with the lines that fix it, before anything is written.
The README section "What pvsync assumes about your databases" lists the same register.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from core.assumptions import behaviours
from core.assumptions import eboekhouden as eboekhouden_checks
from core.assumptions import perfectview as perfectview_checks
from core.assumptions.findings import MISSING, NOT_CHECKED, OK, UNVERIFIED, WARNING, Finding, Fix
from core.secrets import scrub
from core.soap.errors import ServiceError

FINGERPRINT_CURSOR = "assumptions.fingerprint"
PASSED_CURSOR = "assumptions.passed"
# How long a passed check before a run holds for the same settings: PerfectView counts calls per
# day, and a run every 15 minutes must not read the database's layout each time. A database
# changed in between still stops the job that meets it, with the name it lacks.
PASS_HOLDS = timedelta(hours=24)

__all__ = ["MISSING", "NOT_CHECKED", "OK", "UNVERIFIED", "WARNING", "Finding", "Fix", "check_assumptions",
           "fingerprint", "jobs_switched_on", "last_fingerprint", "passed_recently", "refusal", "remember_fingerprint",
           "remember_pass"]


def jobs_switched_on(config: Any, jobs: Iterable[Any] | None = None) -> set[str]:
    """The names of the jobs that are on, and of their parts that are ("relations.import")."""
    if jobs is None:
        from core.engine.jobs import registered  # the engine imports this package; import when called

        jobs = registered()
    on = {job.name for job in jobs if job.enabled(config)}
    if "relations" in on and config.relations.import_from_eboekhouden:
        on.add("relations.import")
    return on


def check_assumptions(config: Any, perfectview: Callable[[], Any], eboekhouden: Callable[[], Any], *,
                      jobs: Iterable[Any] | None = None, required_only: bool = False,
                      store: Any = None) -> list[Finding]:
    """Every assumption, checked against the services the two callables return (a run's
    RunServices.perfectview / .eboekhouden). A service that does not answer gives one
    NOT_CHECKED finding instead of its checks; the other side is still checked.
    `required_only`: only what can stop a job (the engine's check before a run's jobs), with
    e-Boekhouden's ledgers from the `store`'s daily catalog snapshot where it answers them."""
    on = jobs_switched_on(config, jobs)

    def enabled(jobs: tuple[str, ...]) -> bool:
        return bool(on.intersection(jobs))

    findings: list[Finding] = []
    for service, client, checks in (("PerfectView", perfectview, perfectview_checks.check),
                                    ("e-Boekhouden", eboekhouden, eboekhouden_checks.check)):
        try:
            if service == "e-Boekhouden" and required_only:
                findings += _ledgers_for_a_run(config, eboekhouden, enabled, store)
                continue
            findings += checks(config, client(), enabled, required_only=required_only)
        except ServiceError as error:
            findings.append(Finding(f"{service.lower().replace('-', '')}.reachable", service,
                                    f"{service} answers the reads the check needs", NOT_CHECKED,
                                    scrub(f"{error}; its assumptions are checked once it answers")))
    if not required_only:
        findings += [replace(f, needed=enabled(f.jobs)) for f in behaviours.check()]
    return findings


class _SnapshotLedgers:
    def __init__(self, ledgers: tuple) -> None:
        self._ledgers = list(ledgers)

    def ledgers(self) -> list:
        return self._ledgers


def _ledgers_for_a_run(config: Any, eboekhouden: Callable[[], Any], enabled: Callable[[tuple[str, ...]], bool],
                       store: Any) -> list[Finding]:
    """The ledger checks before a run's jobs, at no extra call when it can be helped: the
    invoices job reads the chart of accounts once a day (core.sync.catalog_snapshot), and that
    copy answers as long as it agrees; only a copy that would refuse is confirmed live."""
    if not enabled(("invoices",)):
        return []  # only the invoices job needs the ledgers: no session opened for nothing
    if store is not None:
        from core.sync.catalog_snapshot import load_snapshot

        snapshot = load_snapshot(store)
        if snapshot is not None and snapshot.ledgers:
            found = eboekhouden_checks.check(config, _SnapshotLedgers(snapshot.ledgers), enabled, required_only=True)
            if not any(f.blocks for f in found):
                return found
    return eboekhouden_checks.check(config, eboekhouden(), enabled, required_only=True)


def refusal(findings: Iterable[Finding], job: str) -> str:
    """Why `job` must not start, in the words `pvsync check` uses; "" when nothing it needs is missing."""
    blocking = [f for f in findings if f.blocks and job in f.jobs]
    if not blocking:
        return ""
    reasons = "; ".join(f"{f.service}: {f.sentence()}" for f in blocking)
    return (f"{job} did not start, nothing was written: {len(blocking)} thing(s) it needs "
            f"{'is' if len(blocking) == 1 else 'are'} not in the databases as configured. {reasons}. "
            "`pvsync check` lists every assumption with the lines to set")


def complete(findings: Iterable[Finding]) -> bool:
    return not any(f.status == NOT_CHECKED and f.key.endswith(".reachable") for f in findings)


def fingerprint(findings: Iterable[Finding]) -> str:
    """What the databases answered to each assumption, hashed: the same databases and config
    give the same fingerprint; a field relabelled, a step renamed or a ledger recategorised
    changes it."""
    answers = sorted((f.key, f.status, f.found) for f in findings)
    blob = json.dumps(answers, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def remember_fingerprint(store: Any, findings: list[Finding]) -> bool:
    """Keep the fingerprint of a complete check (both services answered); True when kept."""
    if not complete(findings):
        return False
    # The approval gate (branch approval-twins, core/store/approvals.py) records it through the
    # store, which also keeps an installation's first fingerprint as its baseline; use that where
    # this store has it, so both write the same key the same way.
    record = getattr(store, "record_assumptions_fingerprint", None)
    if record is not None:
        record(fingerprint(findings))
    else:
        store.set_cursor(FINGERPRINT_CURSOR, fingerprint(findings))
    return True


def last_fingerprint(store: Any) -> str | None:
    """The fingerprint of the last complete check, or None when there was none."""
    return store.cursor(FINGERPRINT_CURSOR)


def passed_recently(store: Any, settings_hash: str, now: datetime) -> bool:
    """True when the check before a run passed for these settings within PASS_HOLDS."""
    from core.store.records import from_text

    value = store.cursor(PASSED_CURSOR) or ""
    passed_hash, _, at = value.partition(" ")
    when = from_text(at) if at else None
    return bool(passed_hash) and passed_hash == settings_hash and when is not None and now - when < PASS_HOLDS


def remember_pass(store: Any, settings_hash: str, now: datetime) -> None:
    from core.store.records import to_text

    store.set_cursor(PASSED_CURSOR, f"{settings_hash} {to_text(now)}")
