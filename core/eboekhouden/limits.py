"""e-Boekhouden's public limits on what it accepts, as pure checks.

The service refuses a value that is too long or not one of its codes, and it cannot edit
or delete a booking afterwards, so pvsync checks everything before sending and never
truncates: a shortened name or invoice number in the books is worse than a relation or
invoice that waits with a clear reason. The sync planners reuse these checks to block a
record early; the client refuses to send anything they find fault with; the simulator
enforces the same table, so a check missing here shows up as a refused request in tests.

Sources: the lengths are those of NOTES.md section 1.2 (JBoekhouden annotations, newer
where it and manual v4.9 differ), the codes those of sections 1.3 and 2.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from core.model import BTW_CODES, Booking, BookingLine, EbRelation, MutatieSoort, Problem, VatSide
from core.soap.xml_text import NOT_IN_XML

# (EbRelation attribute, cRelatie element, max length or None for "no limit"), in WSDL order.
RELATION_TEXT_FIELDS: tuple[tuple[str, str, int | None], ...] = (
    ("code", "Code", 15),
    ("bedrijf", "Bedrijf", 100),
    ("contactpersoon", "Contactpersoon", 150),
    ("geslacht", "Geslacht", 1),
    ("adres", "Adres", 150),
    ("postcode", "Postcode", 50),
    ("plaats", "Plaats", 50),
    ("land", "Land", 50),
    ("adres2", "Adres2", 150),
    ("postcode2", "Postcode2", 50),
    ("plaats2", "Plaats2", 50),
    ("land2", "Land2", 50),
    ("telefoon", "Telefoon", 50),
    ("gsm", "GSM", 50),
    ("fax", "FAX", 50),
    ("email", "Email", 150),
    ("site", "Site", 50),
    ("notitie", "Notitie", None),
    ("bankrekening", "Bankrekening", 50),
    ("girorekening", "Girorekening", 50),
    ("btw_nummer", "BTWNummer", 50),
    ("kvk_nummer", "KvkNummer", 50),
    ("aanhef", "Aanhef", 50),
    ("iban", "IBAN", 50),
    ("bic", "BIC", 50),
    ("bp", "BP", 1),
    *((f"def{n}", f"Def{n}", 100) for n in range(1, 11)),
    ("la", "LA", 1),
)

BP_VALUES = ("B", "P")
GESLACHT_VALUES = ("m", "v", "a", "")
LA_VALUES = ("0", "1")
IN_EX_VALUES = ("IN", "EX")

# cMutatie header limits.
MAX_LEDGER_CODE = 10
MAX_RELATION_CODE = 15
MAX_INVOICE_NUMBER = 50
MAX_BOEKSTUK = 50
MAX_OMSCHRIJVING = 200
MAX_BETALINGSKENMERK = 50
MAX_PAYMENT_TERM_DAYS = 9999  # Betalingstermijn is a string of at most 4 characters
# innovato (manual v4.9) refuses booking dates outside these years.
FIRST_BOOKING_YEAR = 1980
LAST_BOOKING_YEAR = 2049

INVOICE_SOORTEN = (MutatieSoort.FACTUUR_VERSTUURD, MutatieSoort.FACTUUR_ONTVANGEN)
PAYMENT_SOORTEN = (MutatieSoort.FACTUURBETALING_ONTVANGEN, MutatieSoort.FACTUURBETALING_VERSTUURD)

# Which BTW-code side each kind of booking takes (REST MUT_110/MUT_111, NOTES.md section 2);
# GEEN (no VAT) goes with every kind, payments take nothing else.
VAT_SIDE_FOR: dict[MutatieSoort, tuple[VatSide, ...]] = {
    MutatieSoort.FACTUUR_VERSTUURD: (VatSide.SALES, VatSide.NONE),
    MutatieSoort.GELD_ONTVANGEN: (VatSide.SALES, VatSide.NONE),
    MutatieSoort.FACTUUR_ONTVANGEN: (VatSide.PURCHASE, VatSide.NONE),
    MutatieSoort.GELD_UITGEGEVEN: (VatSide.PURCHASE, VatSide.NONE),
    MutatieSoort.FACTUURBETALING_ONTVANGEN: (VatSide.NONE,),
    MutatieSoort.FACTUURBETALING_VERSTUURD: (VatSide.NONE,),
}

def too_long(field: str, value: str, limit: int, hint: str = "") -> Problem | None:
    if len(value) <= limit:
        return None
    return Problem(field, f"{field} is {len(value)} characters; e-Boekhouden allows at most {limit}",
                   hint or f"shorten {field} at the source; pvsync never truncates")


def unreadable(field: str, value: str) -> Problem | None:
    if not NOT_IN_XML.search(value):  # such a value cannot even be sent
        return None
    return Problem(field, f"{field} contains control characters that cannot be sent",
                   f"remove the invisible characters from {field} at the source")


def one_of(field: str, value: str, allowed: tuple[str, ...], meaning: str) -> Problem | None:
    if value in allowed:
        return None
    shown = ", ".join(repr(v) for v in allowed)
    return Problem(field, f"{field} is {value!r}; e-Boekhouden accepts only {shown}", meaning)


def relation_problems(rel: EbRelation) -> list[Problem]:
    """Everything about `rel` e-Boekhouden would refuse, all at once."""
    found: list[Problem | None] = []
    if not rel.code.strip():
        found.append(Problem("Code", "Code is empty; e-Boekhouden requires a relation code",
                             "fill in the Debiteurnummer at the source"))
    if not rel.bedrijf.strip():
        found.append(Problem("Bedrijf", "Bedrijf is empty; e-Boekhouden requires a name",
                             "fill in the organisation name, or the surname for a person"))
    for attr, name, limit in RELATION_TEXT_FIELDS:
        value = getattr(rel, attr)
        found.append(unreadable(name, value))
        if limit is not None and attr not in ("geslacht", "bp", "la"):
            found.append(too_long(name, value, limit))
    found.append(one_of("BP", rel.bp, BP_VALUES, "B for an organisation (bedrijf), P for a person (particulier)"))
    found.append(one_of("Geslacht", rel.geslacht, GESLACHT_VALUES,
                        "m (man), v (vrouw), a (afdeling/unknown) or empty"))
    found.append(one_of("LA", rel.la, LA_VALUES, "0 for a standard relation, 1 for a member administration"))
    for attr, name in (("gb_id", "Gb_ID"), ("geen_email", "GeenEmail"), ("nieuwsbriefgroepen_count",
                                                                          "NieuwsbriefgroepenCount")):
        if getattr(rel, attr) < 0:
            found.append(Problem(name, f"{name} is negative", "use 0 for the default"))
    if rel.geen_email not in (0, 1):
        found.append(Problem("GeenEmail", f"GeenEmail is {rel.geen_email}; e-Boekhouden accepts only 0 or 1",
                             "1 means: send this relation no e-mail"))
    return [p for p in found if p is not None]


def booking_problems(b: Booking) -> list[Problem]:
    """Everything about booking `b` e-Boekhouden would refuse, all at once."""
    found: list[Problem | None] = []
    if not FIRST_BOOKING_YEAR <= b.datum.year <= LAST_BOOKING_YEAR:
        found.append(Problem("Datum", f"Datum {b.datum.isoformat()} is outside the years e-Boekhouden accepts "
                                      f"({FIRST_BOOKING_YEAR}-{LAST_BOOKING_YEAR})", "correct the date at the source"))
    if not b.ledger.strip():
        found.append(Problem("Rekening", "Rekening is empty; every booking needs a ledger code",
                             "set the debtors ledger (e.g. 1300) in the settings"))
    for name, value, limit in (("Rekening", b.ledger, MAX_LEDGER_CODE), ("RelatieCode", b.relation_code,
                                                                          MAX_RELATION_CODE),
                               ("Factuurnummer", b.invoice_number, MAX_INVOICE_NUMBER),
                               ("Boekstuk", b.boekstuk, MAX_BOEKSTUK), ("Omschrijving", b.description,
                                                                        MAX_OMSCHRIJVING),
                               ("Betalingskenmerk", b.payment_reference, MAX_BETALINGSKENMERK)):
        found.append(unreadable(name, value))
        found.append(too_long(name, value, limit))
    if b.payment_term_days is not None and not 0 <= b.payment_term_days <= MAX_PAYMENT_TERM_DAYS:
        found.append(Problem("Betalingstermijn", f"Betalingstermijn is {b.payment_term_days} days; e-Boekhouden "
                                                 f"accepts 0 to {MAX_PAYMENT_TERM_DAYS}",
                             "check the due date at the source"))
    found.append(one_of("InExBTW", b.in_ex_vat, IN_EX_VALUES, "IN: amounts include VAT, EX: they exclude it"))
    if b.soort in INVOICE_SOORTEN + PAYMENT_SOORTEN:
        if not b.relation_code.strip():
            found.append(Problem("RelatieCode", f"a {b.soort.value} booking needs a RelatieCode",
                                 "give the relation a Debiteurnummer"))
        if not b.invoice_number.strip():
            found.append(Problem("Factuurnummer", f"a {b.soort.value} booking needs a Factuurnummer",
                                 "number the invoice at the source"))
    if not b.lines:
        found.append(Problem("MutatieRegels", "the booking has no lines", "a booking needs at least one line"))
    for position, line in enumerate(b.lines, start=1):
        found.extend(line_problems(b, line, position))
    return [p for p in found if p is not None]


def line_problems(b: Booking, line: BookingLine, position: int) -> list[Problem | None]:
    where = f"line {position}"
    found: list[Problem | None] = []
    found.append(unreadable(f"{where} TegenrekeningCode", line.ledger))
    if not line.ledger.strip():
        found.append(Problem(f"{where} TegenrekeningCode", f"{where} has no ledger code",
                             "map the VAT code to a grootboekrekening"))
    found.append(too_long(f"{where} TegenrekeningCode", line.ledger, MAX_LEDGER_CODE))
    btw = BTW_CODES.get(line.btw_code)
    if btw is None:
        found.append(Problem(f"{where} BTWCode", f"{where} has BTW-code {line.btw_code!r}, which e-Boekhouden "
                                                 "does not know", "choose one of e-Boekhouden's BTW-codes"))
    else:
        sides = VAT_SIDE_FOR.get(b.soort)
        if sides is not None and btw.side not in sides:
            wanted = " or ".join(s.value for s in sides)
            found.append(Problem(f"{where} BTWCode", f"{where} has BTW-code {btw.code}, a {btw.side.value} code; "
                                                     f"a {b.soort.value} booking takes {wanted} codes",
                                 "correct the VAT mapping"))
        if btw.rate is not None and line.btw_percentage != btw.rate:
            found.append(Problem(f"{where} BTWPercentage", f"{where} has {line.btw_percentage}% with BTW-code "
                                                           f"{btw.code}, which is {btw.rate}%",
                                 "map the VAT code to a BTW-code with the same percentage"))
    for label, amount in (("BedragExclBTW", line.amount_excl_vat), ("BedragBTW", line.vat_amount),
                          ("BedragInclBTW", line.amount_incl_vat), ("BedragInvoer", line.amount_entered)):
        if amount is not None and not _whole_cents(amount):
            found.append(Problem(f"{where} {label}", f"{where} {label} {amount} has more than two decimals",
                                 "round the amount to cents before booking"))
    if line.amount_excl_vat + line.vat_amount != line.amount_incl_vat:
        found.append(Problem(f"{where} BedragInclBTW",
                             f"{where}: {line.amount_excl_vat} + VAT {line.vat_amount} is not "
                             f"{line.amount_incl_vat}", "the amounts must add up to the cent"))
    return found


def _whole_cents(amount: Decimal) -> bool:
    return amount.is_finite() and amount == amount.quantize(Decimal("0.01"))


def relation_field_names() -> dict[str, str]:
    """EbRelation attribute -> cRelatie element for every field, in WSDL order (EbRelation keeps that order)."""
    names = {attr: name for attr, name, _ in RELATION_TEXT_FIELDS}
    names.update(id="ID", add_datum="AddDatum", gb_id="Gb_ID", geen_email="GeenEmail",
                 nieuwsbriefgroepen_count="NieuwsbriefgroepenCount")
    return {f.name: names[f.name] for f in fields(EbRelation)}
