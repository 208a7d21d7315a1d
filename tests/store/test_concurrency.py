"""Several processes writing the same state database at once: nobody sees
"database is locked", nothing is lost, and every request is claimed exactly once."""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path

from core.store import Store

PROCESSES = 3
ROUNDS = 150


def _worker(state_dir: str, number: int, start, results) -> None:
    try:
        with Store.open(Path(state_dir)) as store:
            start.wait()
            added, claimed = [], []
            for round_ in range(ROUNDS):
                store.log("INFO", "engine", f"worker {number} round {round_}", subject=str(number))
                added.append(store.add_request("retry_invoice", {"worker": number, "round": round_}))
                store.add_request("sync")
                request = store.claim_request()
                if request is not None:
                    claimed.append(request.id)
            while (request := store.claim_request()) is not None:
                claimed.append(request.id)
            results.put((number, added, claimed, None))
    except BaseException:
        results.put((number, [], [], traceback.format_exc()))


def test_processes_writing_at_once_never_see_a_locked_database(tmp_path):
    state_dir = tmp_path / "state"
    Store.open(state_dir).close()  # created and migrated once, like an engine would
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(str(state_dir), n, start, results)) for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    errors = [error for *_, error in outcomes if error]
    assert errors == []
    added = [request_id for _, ids, _, _ in outcomes for request_id in ids]
    claimed = [request_id for _, _, ids, _ in outcomes for request_id in ids]
    with Store.open(state_dir) as store:
        syncs = {row[0] for row in store.conn.execute("SELECT id FROM requests WHERE kind = 'sync'")}
        assert len(store.logbook_page(limit=10_000)) == PROCESSES * ROUNDS
        assert store.claim_request() is None
    assert len(set(added)) == PROCESSES * ROUNDS
    # every request, retries and syncs alike, was claimed exactly once
    assert sorted(claimed) == sorted(set(added) | syncs)
