"""Which commits wait for the disk: the invoice journal's always, a relation link's and a
logbook line's not (a crash of pvsync loses neither; see core.store.store)."""

from __future__ import annotations

import pytest

from core.model import RelationLink
from core.store import Store
from core.store.relation_state import RelationState

FULL, NORMAL = 2, 1


def synchronous(store: Store) -> int:
    return store.conn.execute("PRAGMA synchronous").fetchone()[0]


def test_a_commit_that_does_not_wait_for_the_disk_leaves_the_next_one_waiting(tmp_path):
    with Store.open(tmp_path) as store:
        seen = []
        with store.write(durable=False):
            seen.append(synchronous(store))
            RelationState(store).save_link(RelationLink("pv-1", "D1", 7, "a", "b"))
            store.log("INFO", "relation", "created D1 in e-Boekhouden", subject="D1")
        assert seen == [NORMAL] and synchronous(store) == FULL
        with store.write():
            assert synchronous(store) == FULL
    with Store.open(tmp_path) as again:  # committed: another connection reads it
        assert [link.code for link in RelationState(again).links()] == ["D1"]


def test_a_durable_write_cannot_hide_inside_one_that_is_not(tmp_path):
    with Store.open(tmp_path) as store:
        with pytest.raises(RuntimeError, match="durable write cannot join"):
            with store.write(durable=False):
                store.set_cursor("x", "1")
        assert store.cursor("x") is None, "rolled back, nothing half-written"
        assert synchronous(store) == FULL
        with store.write():  # the other way round is fine: the outer one waits for the disk
            store.log("INFO", "relation", "a line inside a durable transaction")
