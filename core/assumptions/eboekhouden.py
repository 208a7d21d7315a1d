"""The e-Boekhouden side of the register: the ledgers and BTW-codes the bookings use.

One read of the chart of accounts (ledgers()) answers every ledger question; the
BTW-codes are checked against the list pvsync knows (core.model.BTW_CODES), which is
e-Boekhouden's Dutch list.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from core.assumptions.findings import MISSING, OK, WARNING, Finding, Fix, nearest
from core.sync.vat_guard import fits_a_sales_mapping, mapping_codes
from core.model import BTW_CODES, VatSide

SERVICE = "e-Boekhouden"
DEBTORS = "DEB"
REVENUE = "VW"
# e-Boekhouden's BTW-codes are those of the Dutch VAT return.
BTW_COUNTRY = "NL"


def check(config: Any, eb: Any, enabled: Callable[[tuple[str, ...]], bool], *,
          required_only: bool = False) -> list[Finding]:
    ledgers = {ledger.code: ledger for ledger in eb.ledgers()}
    needed = enabled(("invoices",))
    found = [_debtors_ledger(config, ledgers), *_revenue_ledgers(config, ledgers), *_btw_codes(config)]
    return [replace(f, needed=needed) for f in found]


def _listing(ledgers: list) -> list[str]:
    return [f"{ledger.code} {ledger.description}" for ledger in ledgers]


def _debtors_ledger(config: Any, ledgers: dict) -> Finding:
    code = config.invoices.debtors_ledger
    what = f"Grootboekrekening {code} (invoices.debtors_ledger) is a debtors ledger (category {DEBTORS})"
    debtors = [ledger for ledger in ledgers.values() if ledger.category == DEBTORS]
    fixes = tuple(Fix(f"{ledger.code} {ledger.description}", ("invoices", "debtors_ledger"), ledger.code)
                  for ledger in debtors)
    ledger = ledgers.get(code)
    if ledger is None:
        return Finding("eboekhouden.debtors_ledger", SERVICE, what, MISSING,
                       f"e-Boekhouden has no grootboekrekening {code}; its debtors ledgers: "
                       f"{', '.join(_listing(debtors)) or 'none'}", fixes=fixes, jobs=("invoices",))
    if ledger.category != DEBTORS:
        return Finding("eboekhouden.debtors_ledger", SERVICE, what, MISSING,
                       f"{code} {ledger.description} is of category {ledger.category}, not {DEBTORS}: e-Boekhouden "
                       f"keeps no open items on it, so no invoice could be seen as paid; its debtors ledgers: "
                       f"{', '.join(_listing(debtors)) or 'none'}", found=f"{code} {ledger.category}", fixes=fixes,
                       jobs=("invoices",))
    return Finding("eboekhouden.debtors_ledger", SERVICE, what, OK, found=f"{code} {ledger.description}",
                   jobs=("invoices",))


def _revenue_ledgers(config: Any, ledgers: dict) -> list[Finding]:
    country = config.vat.own_country
    revenue = [ledger for ledger in ledgers.values() if ledger.category == REVENUE]
    findings = []
    for name, rule in config.vat.own_rules().items():
        key = f"eboekhouden.revenue_ledger.{name}"
        what = f"Grootboekrekening {rule.ledger} of [vat.{country}] {name!r} exists"
        ledger = ledgers.get(rule.ledger)
        if ledger is None:
            candidates = nearest(rule.ledger, [f"{ledger.code} {ledger.description}" for ledger in revenue])
            fixes = tuple(Fix(c, ("vat", country, name, "ledger"), c.split(" ")[0]) for c in candidates)
            findings.append(Finding(key, SERVICE, what, MISSING,
                                    f"e-Boekhouden has no grootboekrekening {rule.ledger}; its revenue ledgers: "
                                    f"{', '.join(_listing(revenue)) or 'none'}", fixes=fixes, jobs=("invoices",)))
        elif ledger.category != REVENUE:
            findings.append(Finding(key, SERVICE, what, WARNING,
                                    f"{rule.ledger} {ledger.description} is of category {ledger.category}, not a "
                                    f"revenue ledger ({REVENUE}); sales are booked on it as configured",
                                    found=f"{rule.ledger} {ledger.category}", jobs=("invoices",)))
        else:
            findings.append(Finding(key, SERVICE, what, OK, found=f"{rule.ledger} {ledger.description}",
                                    jobs=("invoices",)))
    return findings


def _btw_codes(config: Any) -> list[Finding]:
    country = config.vat.own_country
    findings = []
    for name, rule in config.vat.own_rules().items():
        key = f"eboekhouden.btw_code.{name}"
        what = f"BTW-code {rule.btw_code} of [vat.{country}] {name!r} is a current sales code for {country}"
        code = BTW_CODES.get(rule.btw_code)
        current = mapping_codes()
        if code is None or not fits_a_sales_mapping(code.code):
            # The config loader refuses these already; kept so the register is complete on its own.
            findings.append(Finding(key, SERVICE, what, MISSING, f"{rule.btw_code} is no sales BTW-code",
                                    fixes=tuple(Fix(c, ("vat", country, name, "btw_code"), c)
                                                for c in nearest(rule.btw_code, current)), jobs=("invoices",)))
        elif not code.current:
            findings.append(Finding(key, SERVICE, what, WARNING,
                                    f"{rule.btw_code} ({code.description}) is kept for old bookings only",
                                    fixes=tuple(Fix(c, ("vat", country, name, "btw_code"), c)
                                                for c in nearest(rule.btw_code, current)), jobs=("invoices",)))
        elif country != BTW_COUNTRY:
            findings.append(Finding(key, SERVICE, what, WARNING,
                                    f"e-Boekhouden's BTW-codes are those of the Dutch VAT return; for an "
                                    f"organisation in {country} have the mapping checked by its bookkeeper",
                                    found=rule.btw_code, jobs=("invoices",)))
        else:
            findings.append(Finding(key, SERVICE, what, OK, found=rule.btw_code, jobs=("invoices",)))
    return findings
