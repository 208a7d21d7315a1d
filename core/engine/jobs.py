"""The jobs a run consists of, in order, and the registry the engine takes them from.

A job is one stream of work (relations, invoices, payments) that reads both sides,
plans and applies (core/sync). The engine runs them in `JOB_ORDER`, each on its own: one
job failing does not stop the next.
"""

from __future__ import annotations

from core.sync.invoices import InvoicesJob
from core.sync.job import Job, JobResult, RunContext
from core.sync.payments import PaymentsJob
from core.sync.relations import RelationsJob

__all__ = ["JOB_ORDER", "Job", "JobResult", "RunContext", "register", "registered"]

JOB_ORDER = ("relations", "invoices", "payments")
SYNC_JOBS = (("relations", RelationsJob), ("invoices", InvoicesJob), ("payments", PaymentsJob))


_REGISTRY: dict[str, Job] = {}


def register(job: Job) -> None:
    """Add a job, or replace the one with the same name."""
    _REGISTRY[job.name] = job


def registered() -> list[Job]:
    _register_sync_jobs()
    order = {name: index for index, name in enumerate(JOB_ORDER)}
    return sorted(_REGISTRY.values(), key=lambda job: order.get(job.name, len(order)))


def _register_sync_jobs() -> None:
    """The three jobs of core/sync, added to the registry where their name is free.

    A job registered under the same name (a test's stand-in) is kept; checked on every
    call, so a stand-in removed again leaves the real job, not a hole.
    """
    for name, job_class in SYNC_JOBS:
        if name not in _REGISTRY:
            _REGISTRY[name] = job_class()
