"""VAT guard rails: turnover never lands on a balance, bank, debtors or creditors ledger; a
profit-and-loss ledger that is no revenue ledger is named and needs confirmation; GEEN is
offered for domestic 0 % and exempt sales; the waiting invoices are counted per VAT code."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from core.config import set_vat_rule
from core.config.problems import Invalid
from core.config.values import ParseContext, btw_code
from core.model import InvoiceLine, Ledger, SalesInvoice, VatRule
from core.sync.booking import Blocked, Ready, plan_booking
from core.sync.invoice_commands import waiting_by_vat_code
from core.sync.vat_guard import code_doubt, judge, ledger_label, mapping_codes, refused_rules
from tests.sync.invoices_world import InvoiceWorld

CHART = (Ledger(1, "1010", "Bank", "FIN"), Ledger(2, "1300", "Debiteuren", "DEB"),
         Ledger(3, "1600", "Crediteuren", "CRED"), Ledger(4, "0500", "Eigen vermogen", "BAL"),
         Ledger(5, "4500", "Kantoorkosten", "VW"), Ledger(6, "8000", "Omzet hoog", "VW"),
         Ledger(7, "7000", "Dienstverlening", "VW", group="Omzet diensten"),
         Ledger(8, "8900", "Rente", "VW", group="Financiële baten en lasten"))


@pytest.mark.parametrize("code, words", [("1010", "bank or cash"), ("1300", "debtors"), ("1600", "creditors"),
                                         ("0500", "balance-sheet")])
def test_balance_debtors_creditors_and_bank_ledgers_are_refused_with_the_reason(code, words):
    verdict = judge(code, CHART)
    assert verdict.refused is not None and words in verdict.refused and code in verdict.refused


def test_a_cost_ledger_is_doubted_by_name_and_a_revenue_ledger_passes():
    doubt = judge("4500", CHART)
    assert doubt.refused is None and "4500 (Kantoorkosten)" in doubt.doubt and "Confirm" in doubt.doubt
    assert judge("8000", CHART) == judge("7000", CHART) == type(doubt)()  # the range, or a revenue group
    assert "Financiële baten" in judge("8900", CHART).doubt  # in the range, but its group is not omzet


def test_offline_only_the_code_is_judged_against_the_standard_revenue_range():
    assert code_doubt("8100") is None
    assert "outside the revenue range 8000-8999" in code_doubt("4500")
    assert judge("4500", None).doubt == code_doubt("4500")


def test_geen_is_a_mapping_code_and_purchase_codes_are_still_refused(tmp_path):
    ctx = ParseContext(config_dir=tmp_path)
    assert "GEEN" in mapping_codes() and btw_code("geen", ctx) == "GEEN"
    with pytest.raises(Invalid, match="not for sales"):
        btw_code("HOOG_INK_21", ctx)


def _invoice(vat: str, pct: int) -> SalesInvoice:
    line = InvoiceLine(description="cursus", quantity=D(1), amount=D("100.00"), total_amount=D("100.00"),
                       vat_id="v", vat_description=vat, vat_percentage=D(pct))
    return SalesInvoice(activity_id="a1", activity_number="1", invoice_number="F-1", relation_id="r1",
                        invoice_date=date(2026, 11, 2), due_date=None, step="Verstuurd", lines=(line,))


def test_an_exempt_invoice_is_booked_with_geen_and_a_refused_ledger_blocks_it():
    rules = {"Vrijgesteld": VatRule("Vrijgesteld", "GEEN", "8000")}
    ready = plan_booking(_invoice("Vrijgesteld", 0), debtor_number="D1", relation_name="X",
                         relation_in_eboekhouden=True, rules=rules, own_country="NL")
    assert isinstance(ready, Ready) and [(l.btw_code, l.vat_amount) for l in ready.booking.lines] == [("GEEN", 0)]
    bank = {"Vrijgesteld": VatRule("Vrijgesteld", "GEEN", "1010")}
    blocked = plan_booking(_invoice("Vrijgesteld", 0), debtor_number="D1", relation_name="X",
                           relation_in_eboekhouden=True, rules=bank, own_country="NL",
                           refused_ledgers=refused_rules(bank, CHART))
    assert isinstance(blocked, Blocked) and blocked.code == "vat_ledger_refused" and "Bank" in blocked.reason


def test_ledger_names_stand_beside_codes():
    assert ledger_label("8000", CHART) == "8000 (Omzet hoog)"
    assert ledger_label("9999", CHART) == ledger_label("9999", None) == "9999"


def test_an_invoice_mapped_to_the_bank_ledger_waits_and_is_counted_against_its_code(tmp_path):
    with InvoiceWorld(tmp_path) as world:
        set_vat_rule(world.world.config_path, "NL", "BTW 0%", "GEEN", "1010")
        world.reload_config()
        world.invoice(world.customer("D1001"), "F-ZERO", ("Cursus", "1", "80.00", "BTW 0%"))
        world.sync()
        entry = world.entry("F-ZERO")
        assert (entry.state.value, entry.block_code) == ("blocked", "vat_ledger_refused")
        assert "1010 (Bank) is a bank or cash ledger" in entry.reason
        assert world.booked("F-ZERO") == []
        assert waiting_by_vat_code(world.engine.store) == {"BTW 0%": 1}

        set_vat_rule(world.world.config_path, "NL", "BTW 0%", "GEEN", "8020")  # domestic 0 %: GEEN on omzet
        world.reload_config()
        world.sync()
        (booking,) = world.booked("F-ZERO")
        assert [(line.ledger, line.btw_code) for line in booking.lines] == [("8020", "GEEN")]
        assert waiting_by_vat_code(world.engine.store) == {}
