"""Guard rails for the VAT mapping: which grootboekrekening may carry an invoice's turnover.

A sales booking puts the turnover on the mapping's ledger. A balance, bank, debtors or
creditors ledger there corrupts the balance sheet, so it is refused outright. A
profit-and-loss ledger that is not a revenue ledger (a cost ledger such as 4500
Kantoorkosten) is legal in e-Boekhouden but almost always a slip: it is warned about by
name and needs a person's confirmation. Without the administration's chart (the config
check runs offline) only the code can be judged, against the revenue range of
e-Boekhouden's standard chart.

Pure functions: the VAT screen, `pvsync config check`, `pvsync check` and the invoices
job all ask these same questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.model import BTW_CODES, Ledger, VatRule, VatSide

PROFIT_AND_LOSS = "VW"
REVENUE_RANGE = range(8000, 9000)  # e-Boekhouden's standard chart: 8xxx is omzet
NO_VAT = "GEEN"  # domestic 0 % and exempt (vrijgesteld) sales: turnover outside boxes 1a-1e
# What each non-P&L category is, said so a bookkeeper recognises why it cannot carry turnover.
CATEGORY_MEANING = {
    "BAL": "a balance-sheet ledger", "FIN": "a bank or cash ledger", "DEB": "a debtors ledger",
    "CRED": "a creditors ledger", "AF": "a turnover-tax (af te dragen BTW) ledger",
    "AF6": "a turnover-tax (af te dragen BTW) ledger", "AF19": "a turnover-tax (af te dragen BTW) ledger",
    "AFOVERIG": "a turnover-tax (af te dragen BTW) ledger", "VOOR": "an input-tax (voorbelasting) ledger",
    "BTWRC": "the VAT current account",
}
_REVENUE_WORDS = ("omzet", "opbrengst", "revenue", "verkoop")


def mapping_codes() -> list[str]:
    """The BTW-codes a sales VAT mapping may use: the current sales codes and GEEN."""
    return [code for code, btw in BTW_CODES.items() if btw.side is VatSide.SALES and btw.current] + [NO_VAT]


def fits_a_sales_mapping(btw_code: str) -> bool:
    """A sales code (old rates included: the loader keeps old files readable) or GEEN."""
    btw = BTW_CODES.get(btw_code)
    return btw is not None and (btw.side is VatSide.SALES or btw.code == NO_VAT)


def ledger_label(code: str, ledgers: Iterable[Ledger] | Mapping[str, Ledger] | None) -> str:
    """'8000 (Omzet hoog 21%)' when the ledger's name is known, else the code alone."""
    ledger = _find(code, ledgers)
    return f"{code} ({ledger.description})" if ledger is not None and ledger.description else code


def _find(code: str, ledgers: Iterable[Ledger] | Mapping[str, Ledger] | None) -> Ledger | None:
    if not ledgers:
        return None
    if isinstance(ledgers, Mapping):
        return ledgers.get(code)
    return next((ledger for ledger in ledgers if ledger.code == code), None)


def refusal(ledger: Ledger) -> str | None:
    """Why turnover may never be booked on this ledger; None when it is profit and loss."""
    if ledger.category == PROFIT_AND_LOSS:
        return None
    what = CATEGORY_MEANING.get(ledger.category, f"not a profit-and-loss ledger (category {ledger.category or '?'})")
    return (f"grootboekrekening {ledger.code} ({ledger.description}) is {what}: turnover must go to a "
            "profit-and-loss (revenue) ledger; choose one of the 8000-range omzet ledgers")


def in_revenue_range(code: str) -> bool:
    return code.isdigit() and int(code) in REVENUE_RANGE


def revenue_doubt(ledger: Ledger) -> str | None:
    """Why a profit-and-loss ledger looks like no revenue ledger (its group, else its code);
    None when it does look like one. Only asked of ledgers `refusal` lets through."""
    group = ledger.group.strip()
    if group:
        if any(word in group.casefold() for word in _REVENUE_WORDS):
            return None
        return (f"grootboekrekening {ledger.code} ({ledger.description}) is in group '{group}', not a revenue "
                "group: turnover booked there is missing from the omzet. Confirm only if that is intended")
    if in_revenue_range(ledger.code):
        return None
    return (f"grootboekrekening {ledger.code} ({ledger.description}) is outside the revenue range "
            f"{REVENUE_RANGE.start}-{REVENUE_RANGE.stop - 1}: it looks like a cost or other ledger, and turnover "
            "booked there is missing from the omzet. Confirm only if that is intended")


def code_doubt(code: str) -> str | None:
    """The offline form of `revenue_doubt`: only the code is known."""
    if in_revenue_range(code):
        return None
    return (f"grootboekrekening {code} is outside the revenue range {REVENUE_RANGE.start}-"
            f"{REVENUE_RANGE.stop - 1} of e-Boekhouden's standard chart; make sure it is a revenue ledger "
            "(pvsync check compares it with the administration's chart)")


@dataclass(frozen=True)
class LedgerVerdict:
    """What the guard says of one mapping row: refused (never saved or booked), or doubted
    (saved and booked only after a person confirms)."""

    refused: str | None = None
    doubt: str | None = None


def judge(code: str, ledgers: Iterable[Ledger] | Mapping[str, Ledger] | None) -> LedgerVerdict:
    """With the administration's ledgers: refuse or doubt by category and group/range; a code
    the chart does not have is `catalog_snapshot.rule_problems`' to report."""
    ledger = _find(code, ledgers)
    if ledger is None:
        return LedgerVerdict(doubt=code_doubt(code)) if not ledgers else LedgerVerdict()
    reason = refusal(ledger)
    return LedgerVerdict(refused=reason) if reason else LedgerVerdict(doubt=revenue_doubt(ledger))


def refused_rules(rules: Mapping[str, VatRule], ledgers: Iterable[Ledger]) -> dict[str, str]:
    """PerfectView VAT code -> why its ledger is refused, for the rules whose ledger the chart
    says cannot carry turnover (the invoices job blocks their invoices instead of booking)."""
    chart = {ledger.code: ledger for ledger in ledgers}
    found = {}
    for name, rule in rules.items():
        ledger = chart.get(rule.ledger)
        reason = refusal(ledger) if ledger is not None else None
        if reason:
            found[name] = reason
    return found


def mapping_findings(mappings: Mapping[str, Mapping[str, VatRule]], ledgers: Iterable[Ledger] | None = None
                     ) -> list[tuple[str, str]]:
    """("refused" | "warning", text) for each hand-written mapping row the guard rails catch,
    named by its config key. Without `ledgers` (offline) only the revenue range is judged."""
    chart = {ledger.code: ledger for ledger in ledgers} if ledgers is not None else None
    findings = []
    for country, rules in mappings.items():
        for name, rule in rules.items():
            where = f'vat.{country}."{name}".ledger = "{rule.ledger}"'
            if chart is not None and rule.ledger not in chart:
                findings.append(("refused", f"{where}: e-Boekhouden has no grootboekrekening {rule.ledger}; "
                                            "choose one of its revenue ledgers"))
                continue
            verdict = judge(rule.ledger, chart)
            if verdict.refused:
                findings.append(("refused", f"{where}: {verdict.refused}"))
            elif verdict.doubt:
                findings.append(("warning", f"{where}: {verdict.doubt}"))
    return findings
