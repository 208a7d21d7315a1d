"""The demo administration the simulator starts with: a small Dutch installation company.

Everything goes in through the simulator's own business rules (the ones AddRelatie and
AddMutatie apply), so the demo data is data the service would have accepted: relations
with valid codes, sales invoices on the debtors ledger with sales BTW-codes, and
payments as FactuurbetalingOntvangen bookings from the bank to the debtors ledger. Open
items then follow from the bookings, as they do in e-Boekhouden. The same seed gives the
same administration (dates are counted back from today, so the invoices stay recent).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from stdnum import iban as stdnum_iban

from core.eboekhouden.administration import Administration
from core.model import AMSTERDAM, Booking, BookingLine, EbRelation, MutatieSoort, round_cents

LEDGERS = (
    ("0100", "Inventaris", "BAL"),
    ("0500", "Eigen vermogen", "BAL"),
    ("1000", "Kas", "FIN"),
    ("1010", "Bank", "FIN"),
    ("1300", "Debiteuren", "DEB"),
    ("1510", "Af te dragen BTW hoog", "AF19"),
    ("1520", "Af te dragen BTW laag", "AF6"),
    ("1530", "Voorbelasting", "VOOR"),
    ("1540", "BTW rekening courant", "BTWRC"),
    ("1600", "Crediteuren", "CRED"),
    ("4000", "Inkoop materialen", "VW"),
    ("4500", "Kantoorkosten", "VW"),
    ("8000", "Omzet hoog 21%", "VW"),
    ("8010", "Omzet laag 9%", "VW"),
    ("8020", "Omzet 0% / verlegd", "VW"),
    ("8030", "Omzet binnen de EU", "VW"),
    ("8040", "Omzet export buiten de EU", "VW"),
    ("8900", "Overige opbrengsten", "VW"),
)

_SURNAMES = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
             "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
             "de Graaf", "van der Meer", "van den Berg", "Kok", "Jacobs", "de Haan", "Vermeulen", "van Dijk",
             "Schouten", "van der Linden", "Hoekstra")
_FIRST = (("Jan", "m"), ("Pieter", "m"), ("Sanne", "v"), ("Fleur", "v"), ("Daan", "m"), ("Lotte", "v"),
          ("Bram", "m"), ("Eva", "v"), ("Thijs", "m"), ("Anouk", "v"))
_TRADES = ("Bakkerij", "Installatiebedrijf", "Adviesbureau", "Schildersbedrijf", "Hoveniersbedrijf",
           "Transportbedrijf", "Architectenbureau", "Autobedrijf", "Dakdekkersbedrijf", "Tandartspraktijk")
_FORMS = ("B.V.", "V.O.F.", "", "B.V.")
_CITIES = (("Utrecht", "3511", "030"), ("Amsterdam", "1012", "020"), ("Rotterdam", "3011", "010"),
           ("Den Haag", "2511", "070"), ("Eindhoven", "5611", "040"), ("Groningen", "9711", "050"),
           ("Zwolle", "8011", "038"), ("Arnhem", "6811", "026"), ("Haarlem", "2011", "023"),
           ("Leiden", "2311", "071"), ("Deventer", "7411", "0570"), ("Breda", "4811", "076"))
_STREETS = ("Dorpsstraat", "Kerkstraat", "Stationsweg", "Molenweg", "Schoolstraat", "Hoofdstraat",
            "Julianastraat", "Nieuwstraat", "Marktplein", "Industrieweg", "Beatrixlaan", "Kanaalweg")
def valid_iban(rng: random.Random) -> str:
    """A Dutch IBAN with the right check digits, as a bank would issue it."""
    account = f"RABO0{rng.randint(100000000, 999999999)}"
    return f"NL{stdnum_iban.calc_check_digits('NL00' + account)}{account}"


_POSTCODE_LETTERS = "ABCEGHJKLMNPRTVWXZ"  # no SA, SD, SS

# (BTW-code, percentage, revenue ledger) the demo invoices use.
_HIGH = ("HOOG_VERK_21", Decimal(21), "8000")
_LOW = ("LAAG_VERK_9", Decimal(9), "8010")


def load_or_seed(state_file, kind: Literal["demo", "empty"], rng_seed: int | None = None) -> Administration:
    """The administration kept in `state_file` when there is one, else a new one seeded with `kind`."""
    admin = Administration(state_file)
    if not admin.load_state():
        seed(admin, kind, rng_seed)
        admin.save_state()
    return admin


def seed(sim: Administration, kind: Literal["demo", "empty"], rng_seed: int | None = None) -> None:
    """Fill `sim`. Even an "empty" administration has its chart of accounts: e-Boekhouden creates one."""
    if kind not in ("demo", "empty"):
        raise ValueError(f"unknown seed {kind!r}; use demo or empty")
    for code, description, category in LEDGERS:
        sim.add_ledger(code, description, category)
    if kind == "empty":
        return
    rng = random.Random(rng_seed if rng_seed is not None else 20240101)
    today = datetime.now(AMSTERDAM).date()
    codes = []
    for relation in _relations(rng, today):
        sim.store_relation(relation)
        codes.append(relation.code)
    _bookings(sim, rng, today, codes)


def _relations(rng: random.Random, today: date) -> list[EbRelation]:
    relations = []
    surnames = rng.sample(_SURNAMES, 30)
    for n, surname in enumerate(surnames):
        city, postcode, area = rng.choice(_CITIES)
        street = f"{rng.choice(_STREETS)} {rng.randint(1, 180)}{rng.choice(('', '', '', 'a', 'b'))}"
        letters = rng.choice(_POSTCODE_LETTERS) + rng.choice(_POSTCODE_LETTERS)
        phone = f"{area}-{rng.randint(1000000, 9999999) if len(area) == 3 else rng.randint(100000, 999999)}"
        slug = surname.replace(" ", "").lower()
        common = dict(code=f"D{10001 + n}", add_datum=today - timedelta(days=rng.randint(60, 900)),
                      adres=street, postcode=f"{postcode} {letters}", plaats=city, land="Nederland",
                      telefoon=phone)
        if n % 3 == 2:  # every third relation is a private person
            first, gender = rng.choice(_FIRST)
            relations.append(EbRelation(**common, bedrijf=f"{first} {surname}", geslacht=gender, bp="P",
                                        email=f"{first.lower()}@{slug}.nl", gsm=f"06-{rng.randint(10000000, 99999999)}"))
        else:
            trade, form = rng.choice(_TRADES), rng.choice(_FORMS)
            first, gender = rng.choice(_FIRST)
            relations.append(EbRelation(**common, bedrijf=f"{trade} {surname} {form}".strip(), bp="B",
                                        contactpersoon=f"{first} {surname}", geslacht=gender,
                                        email=f"info@{trade.lower()}{slug}.nl", site=f"www.{slug}.nl",
                                        iban=valid_iban(rng)))
    return relations


def _bookings(sim: Administration, rng: random.Random, today: date, codes: list[str]) -> None:
    """Ten sales invoices to ten customers; one paid in full, one paid in part."""
    year = today.year
    invoiced = []
    for n, code in enumerate(rng.sample(codes, 10), start=1):
        number = f"{year}-{n:04d}"
        day = today - timedelta(days=70 - 6 * n)
        lines = [_line(rng, *_HIGH)]
        if n % 3 == 0:
            lines.append(_line(rng, *_LOW))
        invoice = Booking(soort=MutatieSoort.FACTUUR_VERSTUURD, datum=day, ledger="1300", relation_code=code,
                          invoice_number=number, boekstuk=f"VF{number}", description=f"Factuur {number}",
                          payment_term_days=30, in_ex_vat="EX", lines=tuple(lines))
        sim.store_mutation(invoice, "30")
        invoiced.append(invoice)
    paid_full, paid_part = invoiced[0], invoiced[1]
    _payment(sim, paid_full, paid_full.total_incl_vat(), today - timedelta(days=20))
    _payment(sim, paid_part, round_cents(paid_part.total_incl_vat() / 2), today - timedelta(days=5))


def _line(rng: random.Random, btw_code: str, percentage: Decimal, ledger: str) -> BookingLine:
    excl = Decimal(rng.randint(8000, 250000)) / 100
    vat = round_cents(excl * percentage / 100)
    return BookingLine(amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=excl + vat, btw_code=btw_code,
                       btw_percentage=percentage, ledger=ledger, amount_entered=excl)


def _payment(sim: Administration, invoice: Booking, amount: Decimal, day: date) -> None:
    """Money in on the bank (1010), off the debtors ledger (1300), with the invoice number."""
    sim.store_mutation(Booking(
        soort=MutatieSoort.FACTUURBETALING_ONTVANGEN, datum=day, ledger="1010", relation_code=invoice.relation_code,
        invoice_number=invoice.invoice_number, description=f"Betaling factuur {invoice.invoice_number}",
        in_ex_vat="EX", lines=(BookingLine(amount_excl_vat=amount, vat_amount=Decimal("0.00"),
                                           amount_incl_vat=amount, btw_code="GEEN", btw_percentage=Decimal(0),
                                           ledger="1300", amount_entered=amount),)))
