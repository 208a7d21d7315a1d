"""The relations job over e-Boekhouden's REST API (the REST simulator in-process): PerfectView's
customers are created over POST /v1/relation, changes PATCHed, and a code e-Boekhouden already has
(REL_049) is linked, never created twice."""

from __future__ import annotations

import pytest

from core.model import EbRelation
from tests.sync.relations_world import RelationWorld, organisation


@pytest.fixture
def world(tmp_path):
    with RelationWorld(tmp_path, api="rest", import_from_eboekhouden=False, export_to_eboekhouden=True) as w:
        yield w


def rest_calls(world: RelationWorld, call: str) -> int:
    return world.world.eboekhouden_service.rest.calls[call]


def eb_relation(world: RelationWorld, code: str) -> EbRelation | None:
    with world.world.eboekhouden_client() as eb:
        return eb.relation(code)


def test_customers_are_created_and_changes_patched_over_rest(world):
    pv_id = world.pv_add(organisation("D2001", "Bakkerij Jansen"))
    assert world.sync().outcome == "ok"
    created = eb_relation(world, "D2001")
    assert created is not None and created.bedrijf == "Bakkerij Jansen"
    assert rest_calls(world, "POST /v1/relation") == 1
    world.pv_edit(pv_id, name="Bakkerij Jansen & Zn")
    world.sync(force=True)
    assert eb_relation(world, "D2001").bedrijf == "Bakkerij Jansen & Zn"
    assert rest_calls(world, "PATCH /v1/relation/{id}") == 1 and rest_calls(world, "POST /v1/relation") == 1


def test_a_code_e_boekhouden_has_is_linked_not_created_twice(world):
    pv_id = world.pv_add(organisation("D2002", "Slagerij Pieters"))
    # Someone makes D2002 in e-Boekhouden between pvsync's read and its create: the create meets REL_049.
    rest = world.world.eboekhouden_service.rest
    (index,) = [i for i, route in enumerate(rest.routes) if (route[0], route[2]) == ("POST", "/v1/relation")]
    route = rest.routes[index]

    def made_meanwhile(*args, **kw):
        rest.routes[index] = route
        route[3](*args, **kw)  # the other person's create
        return route[3](*args, **kw)  # pvsync's: REL_049

    rest.routes[index] = (*route[:3], made_meanwhile)
    world.sync()
    with world.world.eboekhouden_client() as eb:
        assert list(eb.relation_index()).count("D2002") == 1
        existing = eb.relation("D2002")
    (link,) = [link for link in world.state.links() if link.code == "D2002"]
    assert (link.pv_id, link.eb_id) == (pv_id, existing.id)
    assert any("already in e-Boekhouden" in m and "REL_049" in m for m in world.messages()), world.messages()
