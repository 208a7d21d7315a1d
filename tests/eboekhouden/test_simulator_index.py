"""The e-Boekhouden simulator finds a relation by Code and a booking by Factuurnummer
through an index that follows every change of its tables, also a test's direct one."""

from __future__ import annotations

from dataclasses import replace

from core.eboekhouden.soap.simulator import EboekhoudenSimulator, IndexedTable
from core.model import EbRelation


def test_the_index_follows_every_way_a_table_changes():
    table = IndexedTable(lambda relation: relation.code)
    table[1] = EbRelation(id=1, code="D1", bedrijf="Alfa")
    table.update({2: EbRelation(id=2, code="D2", bedrijf="Beta")})
    table.setdefault(3, EbRelation(id=3, code="D1", bedrijf="Gamma"))  # a second D1, as a person could make
    assert [r.bedrijf for r in table.find("D1")] == ["Alfa", "Gamma"]
    table[1] = replace(table[1], code="D9")  # the code changed
    assert [r.bedrijf for r in table.find("D1")] == ["Gamma"] and [r.id for r in table.find("D9")] == [1]
    del table[3]
    table.pop(2)
    assert table.find("D1") == [] and table.find("D2") == []
    table.clear()
    assert table.find("D9") == [] and not table


def test_the_simulator_refuses_a_code_twice_and_forgets_a_removed_relation(tmp_path):
    sim = EboekhoudenSimulator(seed_data="empty")
    first = sim.store_relation(EbRelation(code="D1", bedrijf="Alfa"))
    assert sim.relation_by_code("D1").id == first
    del sim.relations[first]  # removed in the web application
    assert sim.relation_by_code("D1") is None
    assert sim.store_relation(EbRelation(code="D1", bedrijf="Alfa again")) != first
    sim.state_file = tmp_path / "eb.json"
    sim.save_state()
    reloaded = EboekhoudenSimulator(state_file=tmp_path / "eb.json")
    assert reloaded.relation_by_code("D1").bedrijf == "Alfa again", "the index is rebuilt from the state file"
