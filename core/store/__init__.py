"""The state store: state, invoice journal, logbook, runs and requests in one SQLite file.

Only this package writes SQL. See `Store` for the transaction rules.
"""

from core.store.records import LEVELS, REQUEST_KINDS, EngineStatus, LogEntry, Request, Run
from core.store.stderr import logging_to_stderr
from core.store.store import SchemaTooNew, StateMissing, Store, StoreError

__all__ = ["LEVELS", "REQUEST_KINDS", "EngineStatus", "LogEntry", "Request", "Run", "SchemaTooNew",
           "StateMissing", "Store", "StoreError", "logging_to_stderr"]
