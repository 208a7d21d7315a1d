"""The domain types both services are translated to, and the money rules they share.

Plain dataclasses with no I/O: the adapters translate SOAP answers into these, the sync
planners compare and map them, and the store serialises them. Money is always
`Decimal` built from strings or integers; a float reaching `money()` is a bug and raises,
because binary fractions are how a cent goes missing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CENT = Decimal("0.01")


# --------------------------------------------------------------------------- money


def money(value: str | int | Decimal) -> Decimal:
    """An exact Decimal from a string, int or Decimal; floats are refused on purpose."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must not be built from {type(value).__name__} ({value!r}); pass a string")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        # Dutch notation 1.234,56 or 12,50 -> 1234.56 / 12.50
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    else:
        raise TypeError(f"money must be str, int or Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return result


def round_cents(value: Decimal) -> Decimal:
    """Round to whole cents the Dutch way ("rekenkundig"): 20.125 -> 20.13, -20.125 -> -20.13."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    """Integer cents for storage (SQLite would turn a Decimal into a float).

    Refuses sub-cent values instead of rounding them silently: rounding is a decision
    the caller makes with round_cents().
    """
    if value != value.quantize(CENT):
        raise ValueError(f"{value} has more than two decimals; round it before storing")
    return int(value * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_euro(value: Decimal) -> str:
    """€ 1.234,56 as a Dutch reader expects it."""
    sign = "-" if value < 0 else ""
    whole, _, frac = f"{abs(round_cents(value)):.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}€ {'.'.join(groups) or '0'},{frac}"


def amsterdam_date(moment: datetime) -> date:
    """The calendar date in Amsterdam of an aware moment (bookings are dated this way)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a timezone")
    return moment.astimezone(AMSTERDAM).date()


# --------------------------------------------------------------------------- VAT (BTW)


class VatSide(enum.Enum):
    SALES = "sales"
    PURCHASE = "purchase"
    NONE = "none"


@dataclass(frozen=True)
class BtwCode:
    """One of e-Boekhouden's fixed BTW-codes (NOTES.md section 2)."""

    code: str
    side: VatSide
    rate: Decimal | None  # None: the amount is given (AFW) or depends on the booking date
    description: str
    reverse_charge: bool = False
    current: bool = True  # False for legacy codes (19%, 6%) kept for old bookings


def _btw(code: str, side: VatSide, rate: str | None, description: str, **kw) -> BtwCode:
    return BtwCode(code, side, None if rate is None else Decimal(rate), description, **kw)


BTW_CODES: dict[str, BtwCode] = {
    c.code: c
    for c in [
        _btw("HOOG_VERK", VatSide.SALES, "19", "BTW hoog, verkopen 19% (oud)", current=False),
        _btw("HOOG_VERK_21", VatSide.SALES, "21", "BTW hoog, verkopen 21%"),
        _btw("LAAG_VERK", VatSide.SALES, None, "BTW laag, verkopen (6% of 9% naar boekdatum)", current=False),
        _btw("LAAG_VERK_9", VatSide.SALES, "9", "BTW laag, verkopen 9%"),
        _btw("VERL_VERK", VatSide.SALES, "0", "BTW verlegd 21% (rubriek 1e)", reverse_charge=True),
        _btw("VERL_VERK_L9", VatSide.SALES, "0", "BTW verlegd 9% (rubriek 1e)", reverse_charge=True),
        _btw("BU_EU_VERK", VatSide.SALES, "0", "Leveringen buiten de EU 0%"),
        _btw("BI_EU_VERK", VatSide.SALES, "0", "Goederen binnen de EU 0%"),
        _btw("BI_EU_VERK_D", VatSide.SALES, "0", "Diensten binnen de EU 0%"),
        _btw("AFST_VERK", VatSide.SALES, "0", "Afstandsverkopen binnen de EU"),
        _btw("AFW_VERK", VatSide.SALES, None, "Afwijkend BTW-tarief verkopen"),
        _btw("AFW", VatSide.PURCHASE, None, "Afwijkend BTW-tarief"),
        _btw("HOOG_INK", VatSide.PURCHASE, "19", "BTW hoog, inkopen 19% (oud)", current=False),
        _btw("HOOG_INK_21", VatSide.PURCHASE, "21", "BTW hoog, inkopen 21%"),
        _btw("LAAG_INK", VatSide.PURCHASE, None, "BTW laag, inkopen (6% of 9%)", current=False),
        _btw("LAAG_INK_9", VatSide.PURCHASE, "9", "BTW laag, inkopen 9%"),
        _btw("VERL_INK", VatSide.PURCHASE, "0", "BTW verlegd hoog, inkopen", reverse_charge=True),
        _btw("VERL_INK_L9", VatSide.PURCHASE, "0", "BTW verlegd laag, inkopen", reverse_charge=True),
        _btw("VERL_INK_L", VatSide.PURCHASE, "0", "BTW verlegd laag 6%, inkopen (oud)", reverse_charge=True,
             current=False),
        _btw("BU_EU_INK", VatSide.PURCHASE, "0", "Inkopen van buiten de EU"),
        _btw("BI_EU_INK", VatSide.PURCHASE, "0", "Inkopen binnen de EU"),
        _btw("GEEN", VatSide.NONE, "0", "Geen BTW"),
    ]
}


@dataclass(frozen=True)
class VatRule:
    """How one PerfectView VAT code is booked: the mapping row of the own country."""

    perfectview_vat: str  # the PerfectView VAT code's description, e.g. "BTW hoog 21%"
    btw_code: str  # e-Boekhouden BTW-code, e.g. HOOG_VERK_21
    ledger: str  # grootboekrekening code for the revenue, e.g. 8000


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be written: the field, what is wrong, and what to do about it."""

    field: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})"


# --------------------------------------------------------------------------- relations


# How a person's name is written into e-Boekhouden's name field (config: person_name_format).
PERSON_NAME_FORMATS = ("Voornaam Achternaam", "Achternaam", "Achternaam, Voornaam",
                       "Voornaam Tussenvoegsel Achternaam", "Achternaam, Voornaam Tussenvoegsel")


class RelationKind(enum.Enum):
    ORGANISATION = "organisation"
    PERSON = "person"


class Gender(enum.Enum):
    MALE = "m"
    FEMALE = "v"
    UNKNOWN = "a"  # e-Boekhouden's "a" (afdeling/unknown)
    NONE = ""


@dataclass(frozen=True)
class Address:
    street: str = ""
    house_number: str = ""
    house_number_suffix: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""

    def street_line(self) -> str:
        """Straat + Huisnummer + Huisnummer toevoeging, as e-Boekhouden's Adres takes it.

        A one-letter suffix joins the number ("12a"); anything longer stands apart ("12 bis").
        """
        suffix = self.house_number_suffix.strip()
        number = self.house_number.strip()
        if suffix:
            joined = len(suffix) == 1 and suffix.isalpha() or suffix[0] in "-/"
            number = f"{number}{suffix}" if joined else f"{number} {suffix}".strip()
        return " ".join(p for p in (self.street.strip(), number) if p)

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class CrmRelation:
    """A PerfectView relation in the terms of the functional description (section E).

    Organisations use `name`, the visiting (Bezoek) and postal (Post) addresses and the
    general communication fields; persons use the name parts, gender, the private (Privé)
    and deviating (Afwijkend) addresses and the private communication fields.
    """

    id: str
    kind: RelationKind
    relation_type: str = ""  # PerfectView entity type name, e.g. "Klant"
    debtor_number: str = ""  # Financieel - Administratie - Debiteurnummer
    name: str = ""  # organisation name
    first_name: str = ""
    middle_name: str = ""  # tussenvoegsel
    last_name: str = ""
    gender: Gender = Gender.NONE
    visiting_address: Address = field(default_factory=Address)
    postal_address: Address = field(default_factory=Address)
    private_address: Address = field(default_factory=Address)
    deviating_address: Address = field(default_factory=Address)
    iban: str = ""
    bic: str = ""
    phone: str = ""
    mobile: str = ""
    email: str = ""
    website: str = ""
    kvk_number: str = ""  # Identificatie - KvK-nummer (organisations): evidence of a twin; pvsync never changes it
    account_manager_id: str = ""  # user id of the relatiebeheerder
    modified_at: datetime | None = None
    is_inactive: bool = False


@dataclass(frozen=True)
class EbRelation:
    """An e-Boekhouden relation (cRelatie), every field in WSDL order.

    Kept whole so that UpdateRelatie can read-merge-write: e-Boekhouden replaces the full
    record, so fields pvsync does not map must be sent back as they were.
    """

    id: int = 0
    add_datum: date | None = None
    code: str = ""
    bedrijf: str = ""
    contactpersoon: str = ""
    geslacht: str = ""
    adres: str = ""
    postcode: str = ""
    plaats: str = ""
    land: str = ""
    adres2: str = ""
    postcode2: str = ""
    plaats2: str = ""
    land2: str = ""
    telefoon: str = ""
    gsm: str = ""
    fax: str = ""
    email: str = ""
    site: str = ""
    notitie: str = ""
    bankrekening: str = ""
    girorekening: str = ""
    btw_nummer: str = ""
    kvk_nummer: str = ""
    aanhef: str = ""
    iban: str = ""
    bic: str = ""
    bp: str = "B"  # B bedrijf, P particulier
    def1: str = ""
    def2: str = ""
    def3: str = ""
    def4: str = ""
    def5: str = ""
    def6: str = ""
    def7: str = ""
    def8: str = ""
    def9: str = ""
    def10: str = ""
    la: str = "0"
    gb_id: int = 0
    geen_email: int = 0
    nieuwsbriefgroepen_count: int = 0

    def with_changes(self, **changes) -> EbRelation:
        return replace(self, **changes)


# --------------------------------------------------------------------------- invoices


@dataclass(frozen=True)
class Attachment:
    id: str
    file_name: str
    extension: str = ""
    created_at: datetime | None = None
    content: bytes | None = None  # only when fetched with the file


@dataclass(frozen=True)
class InvoiceLine:
    """One PerfectView product line of a sales invoice."""

    description: str
    quantity: Decimal
    amount: Decimal  # price per unit as PerfectView holds it
    total_amount: Decimal  # quantity x amount, as PerfectView computed it
    vat_id: str | None  # PerfectView VAT code GUID; None when the line has none
    vat_description: str = ""
    vat_percentage: Decimal | None = None
    id: str = ""


@dataclass(frozen=True)
class SalesInvoice:
    """A PerfectView sales invoice activity (workflow Verkoopfactuur by default)."""

    activity_id: str
    activity_number: str  # PerfectView's activity number, carried in Boekstuk
    invoice_number: str
    relation_id: str
    invoice_date: date | None
    due_date: date | None
    step: str  # workflow step name: Concept, Verstuurd, Betaald ...
    lines: tuple[InvoiceLine, ...] = ()
    total: Decimal | None = None  # PerfectView's invoice total (incl. VAT), when it has one
    amounts_include_vat: bool = False
    booked_marker: str = ""  # the "geboekt" field: date and mutatienummer once booked
    attachments: tuple[Attachment, ...] = ()
    modified_at: datetime | None = None
    # Fields PerfectView holds that cannot be read (a total that is no amount): such an
    # invoice is not booked until they are corrected.
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class PvVatCode:
    id: str
    percentage: int
    description: str


# --------------------------------------------------------------------------- e-Boekhouden bookings


class MutatieSoort(enum.Enum):
    OPENINGS_SALDO = "OpeningsSaldo"
    FACTUUR_ONTVANGEN = "FactuurOntvangen"
    FACTUUR_VERSTUURD = "FactuurVerstuurd"
    FACTUURBETALING_ONTVANGEN = "FactuurbetalingOntvangen"
    FACTUURBETALING_VERSTUURD = "FactuurbetalingVerstuurd"
    GELD_ONTVANGEN = "GeldOntvangen"
    GELD_UITGEGEVEN = "GeldUitgegeven"
    MEMORIAAL = "Memoriaal"


@dataclass(frozen=True)
class BookingLine:
    """One cMutatieRegel: amounts per (BTW-code, grootboekrekening)."""

    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    btw_code: str
    btw_percentage: Decimal
    ledger: str  # TegenrekeningCode
    amount_entered: Decimal | None = None  # BedragInvoer; defaults per InExBTW
    invoice_number: str = ""  # only on lines read back from GetMutaties
    cost_centre_id: int = 0


@dataclass(frozen=True)
class Booking:
    """One e-Boekhouden mutation (cMutatie / cMutatieList)."""

    soort: MutatieSoort
    datum: date
    ledger: str  # Rekening: the debtors ledger for an invoice, bank for a payment
    relation_code: str = ""
    invoice_number: str = ""
    boekstuk: str = ""
    description: str = ""
    payment_term_days: int | None = None
    payment_reference: str = ""
    in_ex_vat: str = "EX"
    lines: tuple[BookingLine, ...] = ()
    number: int = 0  # Mutatienummer, assigned by e-Boekhouden

    def total_incl_vat(self) -> Decimal:
        return sum((line.amount_incl_vat for line in self.lines), Decimal("0"))

    def total_excl_vat(self) -> Decimal:
        return sum((line.amount_excl_vat for line in self.lines), Decimal("0"))

    def total_vat(self) -> Decimal:
        return sum((line.vat_amount for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class OpenItem:
    """One cOpenPost: an invoice with what is paid and what is still open."""

    date: date | None
    invoice_number: str
    relation_code: str
    relation_name: str
    amount: Decimal
    paid: Decimal
    outstanding: Decimal


@dataclass(frozen=True)
class Ledger:
    """One grootboekrekening."""

    id: int
    code: str
    description: str
    category: str  # BAL, VW, FIN, DEB, CRED, ...
    group: str = ""  # the administration's own grouping (Groep), "" when it has none


# --------------------------------------------------------------------------- relation sync state


@dataclass(frozen=True)
class RelationLink:
    """A linked pair (PerfectView relation <-> e-Boekhouden code) and the content hashes
    of both sides at the last sync; the store keeps them, the relation planner reads them."""

    pv_id: str
    code: str
    eb_id: int = 0
    pv_hash: str = ""
    eb_hash: str = ""
