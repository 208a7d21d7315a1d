"""The assumptions register against the simulated databases: what it finds, what it offers,
which job it stops, and what it fingerprints (issue 16). The end to end walk is in
test_assumptions_variant.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.assumptions import (MISSING, NOT_CHECKED, OK, UNVERIFIED, WARNING, check_assumptions, fingerprint,
                              last_fingerprint, refusal, remember_fingerprint)
from core.assumptions.behaviours import BEHAVIOURS
from core.config import ConfigError, load_config
from core.demo.world import SimulatedWorld
from core.perfectview.fields import ADDRESS_PARTS, TABLES
from core.store import Store

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def findings_of(world: SimulatedWorld, **kw):
    config = world.config()
    services = world.services(config, None)
    try:
        return {f.key: f for f in check_assumptions(config, services.perfectview, services.eboekhouden, **kw)}
    finally:
        services.close()


def test_the_default_database_meets_every_assumption_and_the_inferred_ones_are_named(tmp_path):
    found = findings_of(SimulatedWorld(tmp_path, seed="empty"))
    assert [f.sentence() for f in found.values() if f.status == MISSING] == []
    assert found["perfectview.field.organisation.debtor_number"].found.startswith("Administratie / Debiteurnummer")
    assert found["eboekhouden.debtors_ledger"].status == OK
    assert found["perfectview.transition.paid"].status == UNVERIFIED
    assert found["perfectview.vat.unmapped"].status == WARNING  # the demo leaves "BTW 0%" unmapped on purpose
    assert {key for key, *_ in BEHAVIOURS} <= set(found)


def test_a_switched_off_job_does_not_need_its_assumptions(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom",
                           settings={"invoices.enabled": False, "payments.enabled": False})
    found = findings_of(world)
    workflow = found["perfectview.workflow"]
    assert workflow.status == MISSING and not workflow.needed and not workflow.blocks
    assert found["perfectview.field.organisation.debtor_number"].blocks  # relations still run
    assert "eboekhouden.debtors_ledger" in found and not found["eboekhouden.debtors_ledger"].needed


def test_a_debtors_ledger_that_is_no_debtors_ledger_is_refused_with_the_ones_that_are(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"invoices.debtors_ledger": "8000"})
    ledger = findings_of(world)["eboekhouden.debtors_ledger"]
    assert ledger.blocks and "8000 Omzet hoog 21% is of category VW, not DEB" in ledger.detail
    assert [(fix.candidate, fix.key, fix.value) for fix in ledger.fixes] == [
        ("1300 Debiteuren", ("invoices", "debtors_ledger"), "1300")]
    message = refusal([ledger], "invoices")
    assert message.startswith("invoices did not start, nothing was written") and ledger.sentence() in message
    assert refusal([ledger], "relations") == ""


def test_a_revenue_ledger_the_administration_lacks_is_missing_with_its_revenue_ledgers(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"vat.NL.BTW hoog 21%": {"btw_code": "HOOG_VERK_21",
                                                                                      "ledger": "8999"}})
    finding = findings_of(world)["eboekhouden.revenue_ledger.BTW hoog 21%"]
    assert finding.blocks and "no grootboekrekening 8999" in finding.detail
    assert finding.fixes[0].key == ("vat", "NL", "BTW hoog 21%", "ledger")
    assert all(fix.value.startswith("8") for fix in finding.fixes)


def test_a_user_that_is_not_there_is_offered_the_active_users_for_the_import_only(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", settings={"relations.import_from_eboekhouden": True,
                                                              "relations.account_manager": "Jost Bakker"})
    finding = findings_of(world)["perfectview.account_manager"]
    assert finding.blocks and finding.jobs == ("relations.import",)
    assert finding.fixes[0].candidate == "Joost Bakker"
    assert refusal([finding], "relations") == ""  # the export goes on; the job itself reports the import


def rename_workflow(world: SimulatedWorld, old: str, new: str) -> dict:
    flow = next(w for w in world.perfectview.db["workflows"] if w["Name"] == old)
    flow["Name"] = new  # as an administrator renames it in PerfectView
    return flow


def test_a_missing_workflow_has_its_steps_and_fields_checked_against_the_one_proposed(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty")
    rename_workflow(world, "Verkoopfactuur", "Verkoopfacturen")
    found = findings_of(world)
    workflow = found["perfectview.workflow"]
    assert workflow.blocks and workflow.fixes[0].text() == '[invoices] workflow = "Verkoopfacturen"'
    # The steps and fields exist in the proposed workflow: OK, and said to hold once it is set.
    sent = found["perfectview.step.sent_step"]
    assert sent.status == OK and sent.checked_against == "Verkoopfacturen"
    assert sent.detail == "checked against workflow 'Verkoopfacturen', the one suggested above"
    assert found["perfectview.field.invoice.booked_marker"].status == OK
    assert found["perfectview.field.invoice.booked_marker"].checked_against == "Verkoopfacturen"
    assert [f.key for f in found.values() if f.blocks] == ["perfectview.workflow"]

    # The one line set: everything holds, and nothing is said to be under a proposal any more.
    from core.config.write import update_config_paths

    update_config_paths(world.config_path, {workflow.fixes[0].key: workflow.fixes[0].value})
    found = findings_of(world)
    assert not any(f.blocks for f in found.values())
    assert not any(f.checked_against or "suggested above" in f.detail for f in found.values())


def test_with_several_workflows_equally_near_the_steps_wait_for_a_choice_and_none_is_guessed(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom")
    flow = rename_workflow(world, "Factuur", "Verkoopfactuur NL")
    world.perfectview.db["workflows"].append(dict(flow, Id="5f1d2c3b-0000-4000-8000-000000000001",
                                                  Name="Verkoopfactuur BE"))
    steps_read = world.perfectview.calls["WorkflowStepGetAll"]
    found = findings_of(world)
    workflow = found["perfectview.workflow"]
    assert workflow.blocks and [fix.candidate for fix in workflow.fixes][:2] == ["Verkoopfactuur BE",
                                                                                 "Verkoopfactuur NL"]
    for key in ("perfectview.step.sent_step", "perfectview.step.paid_step"):
        waiting = found[key]
        assert waiting.status == NOT_CHECKED and not waiting.checked_against, key
        assert ("2 workflows are equally near 'Verkoopfactuur' ('Verkoopfactuur BE', 'Verkoopfactuur NL'), "
                "and pvsync does not guess; choose one as invoices.workflow") in waiting.detail
    fields = [f for key, f in found.items() if key.startswith("perfectview.field.invoice.")]
    assert {f.key.rsplit(".", 1)[1] for f in fields} == set(TABLES["invoice"])
    assert all(f.status == NOT_CHECKED and "until invoices.workflow names" in f.detail for f in fields)
    assert world.perfectview.calls["WorkflowStepGetAll"] == steps_read  # neither was read as if chosen


def test_a_missing_relationship_type_has_its_fields_checked_against_the_one_proposed(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom",
                           settings={"relations.import_from_eboekhouden": True,
                                     "relations.account_manager": "Joost Bakker"})
    found = findings_of(world)
    assert found["perfectview.relationship_type"].fixes[0].candidate == "Klantrelatie"
    manager = found["perfectview.field.relationship.account_manager"]
    assert manager.blocks and manager.checked_against == "Klantrelatie"
    assert manager.detail.endswith("checked against relationship type 'Klantrelatie', the one suggested above")
    assert manager.fixes[0].text() == ('[perfectview.fields] "relationship.account_manager" = '
                                       '"Algemeen / Accountmanager"')


def test_the_own_country_is_compared_in_the_same_round_as_a_missing_organisation_field(tmp_path):
    from core.perfectview.fields import ROOT_RELATION_ID

    world = SimulatedWorld(tmp_path, seed="empty", perfectview_variant="custom")  # no Debiteurnummer field
    db = world.perfectview.db
    country_field = next(f["Id"] for f in db["fields"] if f["Name"] == "VIS_country")
    db["relations"][ROOT_RELATION_ID]["values"][country_field] = next(c["Id"] for c in db["countries"]
                                                                       if c["Code"] == "BE")
    found = findings_of(world)
    assert found["perfectview.field.organisation.debtor_number"].blocks
    country = found["perfectview.own_country"]
    assert country.status == WARNING and "own organisation is in BE" in country.detail
    assert country.fixes[0].text() == '[vat] own_country = "BE"'


def test_an_optional_field_the_database_lacks_says_what_pvsync_does_without_it(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty")
    for name in ("ORG_coc", "INV_totalamount"):
        next(f for f in world.perfectview.db["fields"] if f["Name"] == name)["Label"] = "Weg"
    found = findings_of(world)
    kvk, total = found["perfectview.field.organisation.kvk_number"], found["perfectview.field.invoice.total"]
    assert kvk.status == total.status == WARNING
    assert kvk.detail.endswith("pvsync does without it (a twin on a first import is not recognised by its KvK number)")
    assert total.detail.endswith("pvsync does without it (the invoice total check is off)")


def test_the_fingerprint_follows_what_the_databases_answer_and_is_kept_in_the_state(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty")
    first = list(findings_of(world).values())
    assert fingerprint(first) == fingerprint(list(findings_of(world).values()))
    field = next(f for f in world.perfectview.db["fields"] if f["Name"] == "ORG_debtornumber")
    field["Label"] = "Debiteurnr."  # someone relabels the field in PerfectView
    changed = list(findings_of(world).values())
    assert fingerprint(changed) != fingerprint(first)
    with Store.open(tmp_path / "state") as store:
        assert last_fingerprint(store) is None
        assert remember_fingerprint(store, changed)
        assert last_fingerprint(store) == fingerprint(changed)


def test_the_run_check_reads_only_what_can_stop_a_job(tmp_path):
    world = SimulatedWorld(tmp_path, seed="empty")
    found = findings_of(world, required_only=True)
    assert not any(key.startswith(("perfectview.vat.", "eboekhouden.invoice_number")) for key in found)
    assert "eboekhouden.debtors_ledger" in found


# --------------------------------------------------------------------------- the config's shape


def test_the_field_mapping_is_checked_for_shape_with_line_and_fix(tmp_path, monkeypatch):
    world = SimulatedWorld(tmp_path, seed="empty")
    text = world.config_path.read_text(encoding="utf-8")
    text = text.replace("[perfectview.fields]\n", '[perfectview.fields]\n"organisation.debtr_number" = "A / B"\n'
                                                  '"invoice.booked_marker" = 12\n'
                                                  'debtor_number = "Administratie / Debiteurnr."\n')
    world.config_path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(world.config_path, env={})
    problems = {p.key: p for p in caught.value.problems}
    assert "did you mean organisation.debtor_number" in problems["perfectview.fields.organisation.debtr_number"].fix
    assert problems["perfectview.fields.invoice.booked_marker"].line is not None
    assert "(category / label)" in problems["perfectview.fields.invoice.booked_marker"].fix
    assert "perfectview.fields.debtor_number" not in problems


# --------------------------------------------------------------------------- the README lists the register


def test_the_readme_lists_every_default_field_and_every_inferred_behaviour():
    section = README.split("## What pvsync assumes about your databases", 1)[1].split("\n## ", 1)[0]
    for table, refs in TABLES.items():
        for attribute, ref in refs.items():
            if "." in attribute:
                assert f"{ref.category} / …" in section, (table, attribute)
            else:
                assert f"{attribute} → {ref}" in section, (table, attribute)
    assert set(ADDRESS_PARTS.values()) <= set(re.findall(r"\w+", section))
    bullets = section.split("inferred** (", 1)[1].split("\n\n", 1)[1].split("\n\n", 1)[0]
    assert bullets.count("\n- ") + bullets.startswith("- ") == len(BEHAVIOURS)


def readme_ids(section: str) -> set[str]:
    """The ids the README section gives: the Id column of its tables, the fields' id pattern, and
    the id after each inferred behaviour."""
    ids: set[str] = set()
    column = None
    for line in section.splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if column is None:
            column = cells.index("Id") if "Id" in cells else -1
        elif column >= 0 and not set(cells[column]) <= set("-"):
            ids |= set(re.findall(r"`([^`]+)`", cells[column]))
    ids |= set(re.findall(r"; id `([^`]+)`", section))
    ids |= set(re.findall(r"\(`([a-z_]+\.[a-z_.]+)`\)", section))
    return ids


def register_id(key: str, rules: set[str]) -> str:
    """A finding's key as the README names it: per field, VAT rule or code, the pattern."""
    parts = key.split(".")
    if parts[:2] == ["perfectview", "field"]:
        table, attribute = parts[2], ".".join(parts[3:])
        assert attribute in TABLES[table], key
        return "perfectview.field.<table>.<attribute>"
    head, _, rest = key.partition(".")
    kind, _, rule = rest.partition(".")
    if kind in ("vat", "revenue_ledger", "btw_code") and rule in rules:
        return f"{head}.{kind}.<code>"
    return key


def test_the_readme_gives_the_id_of_every_assumption_the_register_checks_and_no_other(tmp_path):
    everything_on = {"relations.import_from_eboekhouden": True, "relations.account_manager": "Joost Bakker"}
    tie = SimulatedWorld(tmp_path / "tie", seed="empty", perfectview_variant="custom")
    flow = rename_workflow(tie, "Factuur", "Verkoopfactuur NL")
    tie.perfectview.db["workflows"].append(dict(flow, Id="5f1d2c3b-0000-4000-8000-000000000001",
                                                Name="Verkoopfactuur BE"))
    worlds = [SimulatedWorld(tmp_path / "default", seed="empty", settings=everything_on),
              SimulatedWorld(tmp_path / "custom", seed="empty", perfectview_variant="custom", settings=everything_on),
              tie]
    checked: set[str] = set()
    for world in worlds:
        rules = set(world.config().vat.own_rules())
        checked |= {register_id(key, rules) for key in findings_of(world) if not key.endswith(".reachable")}
    section = README.split("## What pvsync assumes about your databases", 1)[1].split("\n## ", 1)[0]
    listed = readme_ids(section)
    assert checked - listed == set(), "checked but not in the README"
    assert listed - checked == set(), "in the README but not checked"


def test_the_workflow_and_its_sent_step_may_be_given_by_their_id(tmp_path):
    from core.config import update_config
    from tests.sync.invoices_world import InvoiceWorld

    with InvoiceWorld(tmp_path) as world:
        flow = world.pv.workflow("Verkoopfactuur")
        sent = world.pv.step_id("Verkoopfactuur", "Verstuurd")
        update_config(world.world.config_path, {"invoices.workflow": flow.id, "invoices.sent_step": sent})
        world.reload_config()
        world.invoice(world.customer("D1"), "F-1", ("Werk", "1", "100.00", "BTW hoog 21%"))
        report = world.sync()
        assert report.outcome == "ok"
        assert len(world.booked("F-1")) == 1


def test_a_passed_check_holds_for_a_day_with_the_same_settings_so_frequent_runs_read_no_layout(tmp_path):
    from datetime import timedelta

    from core.assumptions import PASSED_CURSOR
    from core.config import update_config
    from core.store.records import to_text, utc_now
    from tests.sync.invoices_world import InvoiceWorld

    with InvoiceWorld(tmp_path) as world:
        calls = world.world.perfectview.calls

        def layout_reads() -> int:
            return calls["RelationGetFields"] + calls["ActivityGetFields"] + calls["WorkflowStepGetAll"]

        world.sync()
        first = layout_reads()
        assert first > 0
        world.clock.advance(timedelta(minutes=15))
        world.sync()
        assert layout_reads() == first, "the check passed a quarter of an hour ago with the same settings"

        store = world.engine.store
        store.set_cursor(PASSED_CURSOR, store.cursor(PASSED_CURSOR).split(" ")[0] + " "
                         + to_text(utc_now() - timedelta(hours=25)))
        world.sync()
        assert layout_reads() > first, "a day later it is checked again"

        after = layout_reads()
        update_config(world.world.config_path, {"invoices.sent_step": "Betaald"})
        world.reload_config()
        world.sync()
        assert layout_reads() > after, "other settings are checked at once"
