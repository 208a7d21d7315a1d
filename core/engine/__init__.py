"""The engine: one per state folder; runs jobs on a schedule and on request.

`Engine` runs headless in `pvsync daemon`, inside the console, and once in `pvsync sync`.
"""

from core.engine.engine import Engine, JobOutcome, RunReport
from core.engine.jobs import JOB_ORDER, Job, JobResult, RunContext, register, registered
from core.engine.lock import EngineBusy, EngineLock

__all__ = ["JOB_ORDER", "Engine", "EngineBusy", "EngineLock", "Job", "JobOutcome", "JobResult", "RunContext",
           "RunReport", "register", "registered"]
