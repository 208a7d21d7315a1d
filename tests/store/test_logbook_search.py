"""The logbook's text filter through its trigram index (schema: _logbook_search)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.store import Store
from core.store.records import utc_now


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path) as store:
        yield store


def test_the_text_filter_pages_through_matches_both_ways_with_the_other_filters(store):
    ids = [store.log("WARNING" if n % 2 else "INFO", "relation", f"e-mail of D{n:03d} changed to info@old{n}.nl",
                     subject=f"D{n:03d}") for n in range(30)]
    store.log("INFO", "invoice", "booked F-1", subject="F-1")
    assert [e.subject for e in store.logbook_page(text="old1", limit=3)] == ["D019", "D018", "D017"]
    older = store.logbook_page(text="old1", before_id=ids[17], limit=3)
    assert [e.subject for e in older] == ["D016", "D015", "D014"]
    newer = store.logbook_page(text="OLD1", after_id=ids[10], limit=2)
    assert [e.subject for e in newer] == ["D011", "D012"], "case does not matter, as with LIKE"
    warned = store.logbook_page(text="old1", level="WARNING", kinds=["relation"], limit=100)
    assert [e.subject for e in warned] == ["D019", "D017", "D015", "D013", "D011", "D001"]
    assert [e.message for e in store.logbook_page(text="D005")] == ["e-mail of D005 changed to info@old5.nl"], \
        "the subject is searched too"


def test_quotes_and_search_syntax_in_the_text_are_plain_text(store):
    store.log("INFO", "relation", 'name "Jansen" OR NOT Pietersen*')
    store.log("INFO", "relation", "name Jansen")
    assert [e.message for e in store.logbook_page(text='"Jansen" OR')] == ['name "Jansen" OR NOT Pietersen*']
    assert [e.message for e in store.logbook_page(text="Pietersen*")] == ['name "Jansen" OR NOT Pietersen*']
    assert store.logbook_page(text="NOT Jansen") == []


def test_purged_entries_are_gone_from_the_search_too(store):
    store.log("INFO", "relation", "old news about D1")
    store.conn.execute("UPDATE logbook SET at = ?", ((utc_now() - timedelta(days=400)).isoformat(),))
    store.log("INFO", "relation", "fresh news about D1")
    assert store.purge_logbook(utc_now() - timedelta(days=365)) == 1
    assert [e.message for e in store.logbook_page(text="news about")] == ["fresh news about D1"]
    index = store.conn.execute("SELECT count(*) FROM logbook_text WHERE logbook_text MATCH '\"news about\"'")
    assert index.fetchone()[0] == 1, "the index forgot the purged entry"
