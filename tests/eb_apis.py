"""The two e-Boekhouden APIs for suites that run on both: the parameter, and the names each API's
simulator and pvsync's call meter give the same operation, so a test asserts once, in SOAP's names.

A suite runs on both with `@pytest.mark.parametrize("api", APIS)` (or a fixture over APIS) and
counts calls with `eb_calls(world, "AddMutatie")`, which reads the chosen API's own counter.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from core.soap.simulator import SimulatedDisconnect

APIS = ("soap", "rest")

# SOAP operation -> the REST request that does the same job (METHOD /path template, as counted).
REST_NAME = {
    "AddRelatie": "POST /v1/relation",
    "UpdateRelatie": "PATCH /v1/relation/{id}",
    "AddMutatie": "POST /v1/mutation",
    "GetMutaties": "GET /v1/mutation",
    "GetOpenPosten": "GET /v1/mutation/invoice/outstanding",
    "GetRelaties": "GET /v1/relation",
    "OpenSession": "POST /v1/session",
}


def wire_name(api: str, operation: str) -> str:
    """What `api` calls the SOAP `operation` (in its simulator's counter and pvsync's call meter)."""
    return REST_NAME[operation] if api == "rest" else operation


def simulator(world: Any) -> Any:
    """The simulator of the API `world` (a SimulatedWorld) talks to."""
    service = world.eboekhouden_service
    return service.rest if world.eboekhouden_api == "rest" else service.soap


def eb_calls(world: Any, operation: str) -> int:
    """How often the chosen API's simulator answered SOAP `operation` (or its REST twin)."""
    return simulator(world).calls[wire_name(world.eboekhouden_api, operation)]


def eb_counter(world: Any, operations: tuple[str, ...]) -> Counter[str]:
    """The calls of `operations` since the last reset, in SOAP's names, zeros left out."""
    return Counter({op: n for op in operations if (n := eb_calls(world, op))})


def reset_eb_calls(world: Any) -> None:
    world.eboekhouden_service.soap.calls.clear()
    world.eboekhouden_service.rest.calls.clear()


def expire_session_before(world: Any, operation: str) -> None:
    """The session expires just before the next call of SOAP `operation` (or its REST twin)."""
    if world.eboekhouden_api != "rest":
        from tests.reliability.fault_world import expire_session_before as soap_expire

        soap_expire(world.eboekhouden_service.soap, operation)
        return
    rest = world.eboekhouden_service.rest
    method, _, template = wire_name("rest", operation).partition(" ")
    route = rest._route

    def expiring(request_method: str, path: str):
        found = route(request_method, path)
        if isinstance(found, tuple) and (request_method, found[0]) == (method, template):
            del rest._route  # once
            rest.expire_sessions()  # before the request is authenticated: it meets a 401
        return found

    rest._route = expiring


def lose_answers(world: Any, operation: str, times: int = 1) -> None:
    """The next `times` calls of SOAP `operation` (or its REST twin) are carried out and committed,
    then the connection drops before the answer (the "lost" fault, for one operation only)."""
    left = [times]
    if world.eboekhouden_api == "rest":
        rest = world.eboekhouden_service.rest
        method, _, template = wire_name("rest", operation).partition(" ")
        (index,) = [i for i, route in enumerate(rest.routes) if (route[0], route[2]) == (method, template)]
        route = rest.routes[index]

        def lost(*args, **kw):
            route[3](*args, **kw)
            left[0] -= 1
            if left[0] <= 0:
                rest.routes[index] = route
            raise SimulatedDisconnect(committed=True)

        rest.routes[index] = (*route[:3], lost)
        return
    from tests.reliability.fault_world import lose_answers as soap_lose  # wraps whatever handles calls now

    soap_lose(world.eboekhouden_service.soap, operation, times)
