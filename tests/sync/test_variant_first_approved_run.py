"""A new user on a PerfectView database set up by someone else, with the first run waiting for a
person (issue 16, "Done when"), all on the command line as they type it: `pvsync check` names the
mismatches and the lines, the user sets exactly those lines, `pvsync sync` only plans and waits,
`pvsync approve --show` shows the plan, `pvsync approve`, and the next `pvsync sync` books the
invoice once and links the relation. The simulators run on loopback sockets, as for a customer.
"""

from __future__ import annotations

import copy
import re
import tomllib

import pytest

from core import cli
from core.config.write import update_config_paths
from core.demo.world import SimulatedWorld
from tests.sync.test_assumptions_variant import CHOICES, customers_client, fill

# `pvsync check` prints each offered fix as: to use 'Name': [section]  key = value
OFFERED_LINE = re.compile(r"^\s+to use (?P<choice>'[^']*'|\"[^\"]*\"): (?P<table>\[[^\]]+\])  (?P<line>.+)$")
MISSING = re.compile(r"^  MISSING \s+(?P<service>\S+)\s+(?P<what>.+)$")


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.delenv("PVSYNC_CONFIG", raising=False)
    monkeypatch.delenv("PVSYNC_STATE_DIR", raising=False)
    # The demo world writes at once; a customer's first run waits for a person (the shipped default).
    with SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom", loopback=True,
                        settings={"engine.approve_first_run": True}) as world:
        yield world


def pvsync(capsys, world, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["--config", str(world.config_path), "--state-dir", str(world.state_dir), *argv])
    return code, capsys.readouterr().out


def blocking_fixes(check_output: str) -> dict[str, list[tuple[str, str, str]]]:
    """Per MISSING (blocking) assumption the lines check offers: (choice, table header, line)."""
    fixes: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for text in check_output.splitlines():
        if text.startswith("  ") and not text.startswith("   "):  # a new assumption's first line
            found = MISSING.match(text)
            current = found["what"] if found else None
            if current:
                fixes[current] = []
        elif current and (offered := OFFERED_LINE.match(text)):
            fixes[current].append((offered["choice"].strip("'\""), offered["table"], offered["line"]))
    return fixes


def set_lines(world, fixes: dict[str, list[tuple[str, str, str]]]) -> list[str]:
    """The user copies one offered line per mismatch into the config: the first offered, or the
    name they know to be theirs where check offers several (it must be among the offered)."""
    wanted_names = set(CHOICES.values())
    changes, copied = {}, []
    for what, offered in fixes.items():
        assert offered, f"check names no line for {what}"
        choice, table, line = next((o for o in offered if o[0] in wanted_names), offered[0])
        parsed = tomllib.loads(f"{table}\n{line}")
        path: list[str] = []
        while isinstance(parsed, dict):
            ((key, parsed),) = parsed.items()
            path.append(key)
        changes[tuple(path)] = parsed
        copied.append(f"{table} {line}")
    update_config_paths(world.config_path, changes)
    return copied


def simulators_state(world) -> tuple:
    pv = copy.deepcopy(world.perfectview.state_to_json())
    pv.pop("calls_per_day", None)  # reading counts against the API budget; it writes nothing
    return pv, copy.deepcopy(world.eboekhouden.state_to_json())


def test_a_new_user_goes_from_check_to_a_first_approved_run_on_the_variant_database(capsys, world):
    activity = fill(world)

    # 1. check names every mismatch with the lines; the user sets exactly those, until check passes.
    code, out = pvsync(capsys, world, "check")
    assert code == 1
    fixes = blocking_fixes(out)
    assert set(fixes) == {"Organisation field for debtor number (Administratie / Debiteurnummer)",
                          "Organisation field for email (Communicatie / E-mailadres)",
                          "Person field for debtor number (Administratie / Debiteurnummer)",
                          "Sales invoice workflow 'Verkoopfactuur'",
                          # The workflow's steps and fields, against the workflow check proposes: one round.
                          "Step 'Verstuurd' of workflow 'Factuur' for sent invoices (booked)",
                          "Step 'Betaald' of workflow 'Factuur' for paid invoices",
                          "The invoice workflow field for invoice number (Factuur / Factuurnummer)",
                          "The invoice workflow field for booked marker (Boekhouding / Geboekt in e-Boekhouden)"}, out
    assert "8 missing that invoices, payments, relations need" in out
    assert "checked against workflow 'Factuur', the one suggested above" in out
    copied = set_lines(world, fixes)
    assert '[invoices] workflow = "Factuur"' in copied and '[invoices] paid_step = "Voldaan"' in copied
    code, out = pvsync(capsys, world, "check")
    assert code == 0, out
    assert "MISSING " not in out

    # 2. The first sync only plans: exit 1, the plan says it waits, nothing reaches either service.
    before = simulators_state(world)
    code, out = pvsync(capsys, world, "sync")
    assert code == 1, out
    assert "nothing written, it waits for approval" in out and "pvsync approve" in out
    assert simulators_state(world) == before
    assert world.eboekhouden.relation_codes() == [] and world.eboekhouden.bookings_for_invoice("F2026-001") == []
    code, out = pvsync(capsys, world, "status")
    assert "Waiting:  nothing is written: the engine waits for approval" in out

    # 3. approve --show shows the plan without approving; approve approves.
    code, out = pvsync(capsys, world, "approve", "--show")
    assert code == 0 and "Waiting since" in out and "Plan (made" in out
    # The plan is what the approved run then writes: the relation created, then its invoice booked.
    assert "create D100 (Bakkerij Jansen B.V.) in e-Boekhouden" in out
    assert "invoices  ok          dry run: 1 would be booked, 0 waiting" in out
    assert simulators_state(world) == before
    code, out = pvsync(capsys, world, "approve")
    assert code == 0 and "the next run writes" in out

    # 4. The next sync writes: the relation is linked by its code, the invoice booked once and marked.
    code, out = pvsync(capsys, world, "sync")
    assert code == 0, out
    assert "dry run" not in out
    assert world.eboekhouden.relation_codes() == ["D100"]
    relation = world.eboekhouden.relation_by_code("D100")
    # The fields found under the database's own names reach e-Boekhouden.
    assert (relation.bedrijf, relation.email) == ("Bakkerij Jansen B.V.", "info@jansen.nl")
    (booking,) = world.eboekhouden.bookings_for_invoice("F2026-001")
    assert booking.relation_code == "D100"
    pv = customers_client(world)
    try:
        assert pv.invoice(activity).booked_marker.endswith(f"mutatie {booking.number}")
    finally:
        pv.close()

    # Once: a further sync books nothing more.
    code, out = pvsync(capsys, world, "sync")
    assert code == 0, out
    assert len(world.eboekhouden.bookings_for_invoice("F2026-001")) == 1
