"""PerfectView's VAT codes and e-Boekhouden's ledgers, as last read, for the VAT mapping screen.

The console may have no credentials (they can live only in the daemon's environment), so
it cannot ask the services what VAT codes and grootboekrekeningen exist. The engine can:
on the invoices job's daily full pass it reads both lists (the VAT codes are usually in
the client's cache already) and keeps them in the state folder's `cursors` table as JSON,
with the moment they were read. The screen shows that snapshot and its age, and checks a
mapping row against it before saving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.model import BTW_CODES, Ledger, PvVatCode, VatRule
from core.store import Store
from core.store.records import from_text, to_text, utc_now
from core.sync.vat_guard import fits_a_sales_mapping, judge

CURSOR = "catalog.snapshot"
REVENUE = "VW"  # e-Boekhouden's category for profit-and-loss ledgers, where revenue is booked


@dataclass(frozen=True)
class CatalogSnapshot:
    read_at: datetime
    own_country: str  # of the own organisation in PerfectView; "" when it has none
    vat_codes: tuple[PvVatCode, ...]
    ledgers: tuple[Ledger, ...]

    def vat_code(self, description: str) -> PvVatCode | None:
        return next((code for code in self.vat_codes if code.description == description), None)

    def ledger(self, code: str) -> Ledger | None:
        return next((ledger for ledger in self.ledgers if ledger.code == code), None)

    def revenue_ledgers(self) -> list[Ledger]:
        return [ledger for ledger in self.ledgers if ledger.category == REVENUE]

    def to_json(self) -> str:
        return json.dumps({
            "read_at": to_text(self.read_at), "own_country": self.own_country,
            "vat_codes": [{"id": c.id, "percentage": c.percentage, "description": c.description}
                          for c in self.vat_codes],
            "ledgers": [{"id": g.id, "code": g.code, "name": g.description, "category": g.category,
                         "group": g.group}
                        for g in self.ledgers],
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CatalogSnapshot:
        data = json.loads(text)
        return cls(from_text(data["read_at"]), data.get("own_country", ""),
                   tuple(PvVatCode(c["id"], int(c["percentage"]), c["description"]) for c in data["vat_codes"]),
                   tuple(Ledger(int(g["id"]), g["code"], g["name"], g["category"], g.get("group", ""))
                         for g in data["ledgers"]))


def read_catalog(perfectview: Any, eboekhouden: Any, now: datetime | None = None, *,
                 ledgers_read: list[Ledger] | None = None) -> CatalogSnapshot:
    """Both lists from the services (PerfectView's cached per client, so often no call);
    `ledgers_read`: the ledgers this run read already (then not read again)."""
    vat_codes = sorted(perfectview.vat_codes(), key=lambda code: (-code.percentage, code.description.casefold()))
    read = ledgers_read if ledgers_read is not None else eboekhouden.ledgers()
    ledgers = sorted(read, key=lambda ledger: ledger.code)
    return CatalogSnapshot(now or utc_now(), perfectview.own_country(), tuple(vat_codes), tuple(ledgers))


def save_snapshot(store: Store, snapshot: CatalogSnapshot) -> None:
    store.set_cursor(CURSOR, snapshot.to_json())


def load_snapshot(store: Store) -> CatalogSnapshot | None:
    text = store.cursor(CURSOR)
    if not text:
        return None
    try:
        return CatalogSnapshot.from_json(text)
    except (ValueError, KeyError, TypeError):
        return None  # written by another version: the next full pass writes it again


def refresh_catalog_snapshot(ctx: Any, ledgers_read: list[Ledger] | None = None) -> None:
    """Called by the invoices job at the end of a (real, not dry) full pass. Never fails the
    run: the mapping screen then shows the previous snapshot and its age."""
    from core.soap.errors import ServiceError

    try:
        snapshot = read_catalog(ctx.services.perfectview(), ctx.services.eboekhouden(), ledgers_read=ledgers_read)
    except ServiceError as error:
        ctx.log("WARNING", "invoice", f"the VAT codes and ledgers for the VAT mapping screen were not read: "
                                      f"{error}. The screen shows the list read before; the next full pass "
                                      "tries again")
        return
    save_snapshot(ctx.store, snapshot)


def rule_problems(snapshot: CatalogSnapshot, perfectview_vat: str, btw_code: str, ledger: str) -> list[str]:
    """What is wrong with a mapping row given what the services have, in words. The form of
    the codes (a sales BTW-code, a ledger code) is the config loader's to check."""
    problems = []
    vat = snapshot.vat_code(perfectview_vat)
    btw = BTW_CODES.get(btw_code)
    if vat is None:
        known = ", ".join(code.description for code in snapshot.vat_codes)
        problems.append(f"PerfectView has no VAT code '{perfectview_vat}' (it has: {known})")
    elif btw is not None and fits_a_sales_mapping(btw_code) and not rate_fits(btw_code, vat.percentage):
        problems.append(f"'{perfectview_vat}' is {vat.percentage}% in PerfectView but {btw_code} is {btw.rate}%: "
                        "choose a BTW-code with the same percentage")
    if ledger and snapshot.ledger(ledger) is None:
        problems.append(f"e-Boekhouden has no grootboekrekening {ledger}: choose one of its revenue ledgers")
    elif ledger:
        refused = judge(ledger, snapshot.ledgers).refused
        if refused:
            problems.append(refused)
    return problems


def rule_doubts(snapshot: CatalogSnapshot | None, perfectview_vat: str, btw_code: str, ledger: str) -> list[str]:
    """What a person must confirm before a mapping row is saved: a ledger that looks like no
    revenue ledger (by the administration's chart when read, else by its code)."""
    doubt = judge(ledger, snapshot.ledgers if snapshot is not None else None).doubt if ledger else None
    return [doubt] if doubt else []


def rate_fits(btw_code: str, percentage: int | Decimal) -> bool:
    """An invoice line of this percentage may be booked with this BTW-code (as the booking plan
    decides: a code whose rate depends on the date or amount fits any percentage)."""
    btw = BTW_CODES.get(btw_code)
    return btw is not None and (btw.rate is None or btw.rate == Decimal(percentage))


def row_status(snapshot: CatalogSnapshot | None, rule: VatRule | None, vat: PvVatCode | None) -> str:
    """The Check column of the VAT mapping screen, in words."""
    if rule is None:
        return "NOT MAPPED"
    btw = BTW_CODES.get(rule.btw_code)
    if btw is None or not fits_a_sales_mapping(btw.code):
        return "NOT A SALES CODE"
    if snapshot is not None and vat is None:
        return "NOT IN PERFECTVIEW"
    if vat is not None and not rate_fits(rule.btw_code, vat.percentage):
        return "RATE DIFFERS"
    if snapshot is not None and snapshot.ledger(rule.ledger) is None:
        return "NO SUCH LEDGER"
    verdict = judge(rule.ledger, snapshot.ledgers if snapshot is not None else None)
    if verdict.refused:
        return "NOT P&L: REFUSED"
    if verdict.doubt:
        return "NOT REVENUE?"
    return "OK" if btw.current else "OLD RATE"
