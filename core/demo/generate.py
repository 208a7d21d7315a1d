"""Large, realistic organisations in both simulators, for benchmarks and end-to-end tests.

`pvsync demo` fills its small world through the APIs, as a customer's data arrives; at
10,000 or 50,000 relations that takes far too long (every record is a SOAP round trip).
The generator goes one level lower and calls the simulators' own operation handlers and
business-rule functions directly, with the same arguments the API would hand them: the
records still pass every check the service applies (required fields, field lengths,
known GUIDs, workflow transitions, e-Boekhouden's relation and booking rules), only
the envelopes are skipped.

What it makes, deterministic from the seed (and `today`):
- PerfectView: Dutch organisations and persons (about two in three with a Debiteurnummer,
  typed Klant or Persoon; the rest Prospect, Suspect, Te beoordelen), valid IBANs, an
  account manager each; sales invoices on the customers with mixed VAT (21%, 9%, 0%,
  verlegd, EU), some credit invoices, some with amounts including VAT, most Verstuurd,
  some still Concept, each with its PDF attached.
- e-Boekhouden (`open_items=True`): an organisation that already booked part of its sent
  invoices (the way pvsync books them, with the booked marker in PerfectView), so the
  relations of those customers exist there; of those bookings some are paid in full,
  some in part and most not yet, which is what GetOpenPosten then reports.
"""

from __future__ import annotations

import base64
import random
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator

from core.eboekhouden.soap.simulator import EboekhoudenSimulator
from core.model import (AMSTERDAM, Address, Booking, BookingLine, CrmRelation, Gender, InvoiceLine, MutatieSoort,
                        RelationKind, SalesInvoice, VatRule, round_cents)
from core.perfectview import sim_database
from core.perfectview.catalog import PvField, resolve_fields
from core.perfectview.demo import DEMO_PDF, dutch_iban
from core.perfectview.fields import CUSTOMER_RELATIONSHIP_TYPE, NIL_GUID, TABLES, table_for
from core.perfectview.simulator import PerfectViewSimulator
from core.perfectview.translate import relation_values
from core.sync.booking import BookingSettings, Ready, plan_booking
from core.sync.mapping import merge_into

if TYPE_CHECKING:
    from core.demo.world import SimulatedWorld

# Debiteurnummers and invoice numbers live in their own ranges, so a generated organisation
# can be added to a world that already holds the demo seed.
FIRST_DEBTOR_NUMBER = 100_000
INVOICE_WORKFLOW = "Verkoopfactuur"
# Records look a day old: a run right after generating sees them as existing data, not
# as edits made during the run (modified-since cursors).
GENERATED_AGE = timedelta(days=1)
BOOKED_SHARE = 0.4  # of the sent invoices, when open_items: booked before pvsync came
CREDIT_SHARE = 0.04
CONCEPT_SHARE = 0.15
INCLUDES_VAT_SHARE = 0.1

# The VAT mapping used when only simulators (no world config) are given: the demo's.
DEFAULT_VAT_RULES = {
    "BTW hoog 21%": VatRule("BTW hoog 21%", "HOOG_VERK_21", "8000"),
    "BTW laag 9%": VatRule("BTW laag 9%", "LAAG_VERK_9", "8010"),
    "BTW verlegd": VatRule("BTW verlegd", "VERL_VERK", "8020"),
    "BTW EU 0%": VatRule("BTW EU 0%", "BI_EU_VERK_D", "8030"),
}

SURNAMES = (("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("", "Bakker"), ("van", "Dijk"), ("", "Visser"),
            ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"), ("de", "Groot"), ("", "Bos"),
            ("", "Vos"), ("", "Peters"), ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"),
            ("de", "Wit"), ("", "Dijkstra"), ("", "Smits"), ("de", "Graaf"), ("van der", "Meer"), ("", "Kok"),
            ("", "Jacobs"), ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"), ("van der", "Veen"),
            ("van den", "Broek"), ("de", "Bruijn"), ("", "Schouten"), ("van", "Beek"), ("", "Willems"),
            ("van", "Vliet"), ("", "Hoekstra"), ("", "Maas"), ("", "Verhoeven"), ("", "Koster"), ("van", "Dam"),
            ("", "Prins"), ("", "Blom"), ("", "Huisman"), ("", "Peeters"), ("de", "Jong"), ("", "Kuipers"),
            ("van", "Wijk"), ("", "Postma"), ("", "Kramer"), ("van den", "Bosch"), ("", "Timmermans"),
            ("", "Groen"), ("", "Gerritsen"), ("", "Evers"), ("", "Wouters"), ("", "Scholten"), ("ter", "Horst"),
            ("", "Lammers"), ("van der", "Wal"), ("", "Kroon"), ("", "Bouwman"), ("op de", "Beek"))
FIRST_NAMES = (("Daan", Gender.MALE), ("Sem", Gender.MALE), ("Lucas", Gender.MALE), ("Bram", Gender.MALE),
               ("Jesse", Gender.MALE), ("Thijs", Gender.MALE), ("Ruben", Gender.MALE), ("Pieter", Gender.MALE),
               ("Willem", Gender.MALE), ("Joost", Gender.MALE), ("Mohamed", Gender.MALE), ("Kees", Gender.MALE),
               ("Emma", Gender.FEMALE), ("Julia", Gender.FEMALE), ("Sophie", Gender.FEMALE), ("Anouk", Gender.FEMALE),
               ("Noor", Gender.FEMALE), ("Fleur", Gender.FEMALE), ("Sanne", Gender.FEMALE), ("Lotte", Gender.FEMALE),
               ("Fatima", Gender.FEMALE), ("Ingrid", Gender.FEMALE), ("Marieke", Gender.FEMALE),
               ("Robin", Gender.UNKNOWN))
TRADES = ("Bakkerij", "Installatiebedrijf", "Hoveniersbedrijf", "Schildersbedrijf", "Adviesbureau", "Autobedrijf",
          "Kinderopvang", "Fysiotherapie", "Transportbedrijf", "Drukkerij", "Tandartspraktijk", "Architectenbureau",
          "Dakdekkersbedrijf", "Loodgietersbedrijf", "Administratiekantoor", "Bouwbedrijf", "Kapsalon",
          "Elektrotechniek", "Timmerbedrijf", "Schoonmaakbedrijf", "Restaurant", "Makelaardij", "Bloemisterij",
          "Rijschool", "Dierenkliniek", "Fietsenwinkel", "Zorgboerderij", "Accountantskantoor")
LEGAL_FORMS = ("B.V.", "B.V.", "V.O.F.", "", "", "Holding B.V.")
# City, the first two digits of its postcodes, its area code.
PLACES = (("Amsterdam", "10", "020"), ("Rotterdam", "30", "010"), ("Den Haag", "25", "070"),
          ("Utrecht", "35", "030"), ("Eindhoven", "56", "040"), ("Groningen", "97", "050"),
          ("Tilburg", "50", "013"), ("Almere", "13", "036"), ("Breda", "48", "076"), ("Nijmegen", "65", "024"),
          ("Apeldoorn", "73", "055"), ("Haarlem", "20", "023"), ("Arnhem", "68", "026"), ("Enschede", "75", "053"),
          ("Amersfoort", "38", "033"), ("Zwolle", "80", "038"), ("Leiden", "23", "071"), ("Maastricht", "62", "043"),
          ("Dordrecht", "33", "078"), ("Zoetermeer", "27", "079"), ("Deventer", "74", "0570"),
          ("Delft", "26", "015"), ("Alkmaar", "18", "072"), ("Leeuwarden", "89", "058"), ("Hilversum", "12", "035"),
          ("Houten", "39", "030"), ("Zeist", "37", "030"), ("Gouda", "28", "0182"), ("Veenendaal", "39", "0318"),
          ("Den Bosch", "52", "073"))
FOREIGN_PLACES = (("Antwerpen", "2000", "BE"), ("Gent", "9000", "BE"), ("Düsseldorf", "40210", "DE"),
                  ("Aachen", "52062", "DE"), ("Köln", "50667", "DE"))
STREETS = ("Dorpsstraat", "Kerkstraat", "Stationsweg", "Molenweg", "Julianalaan", "Beukenlaan", "Industrieweg",
           "Nieuwe Gracht", "Oude Rijn", "Marktplein", "Wilhelminapark", "Vondellaan", "Schoolstraat", "Hoofdstraat",
           "Beatrixlaan", "Kanaalweg", "Lindenlaan", "Eikenlaan", "Parallelweg", "Havenstraat", "Prins Hendrikkade",
           "Oranjelaan", "Emmastraat", "Koningsweg", "Burgemeester de Withstraat", "Tuinstraat", "Veldweg",
           "Ambachtsweg", "Spoorstraat", "Meidoornlaan")
POSTCODE_LETTERS = "ABCDEGHJKLMNPRTVWXZ"
# Free invoice lines (products come from the database's own product list).
FREE_LINES = ("Montage en installatie", "Materiaal volgens opgave", "Advieswerkzaamheden", "Projectbegeleiding",
              "Licentie jaarabonnement", "Reiskosten", "Onderhoudscontract kwartaal", "Inspectie en rapportage")


@dataclass
class GeneratedOrganisation:
    """What was made, so a benchmark knows what to expect of a run."""

    relation_ids: list[str] = field(default_factory=list)  # PerfectView ids, every relation generated
    customers: dict[str, str] = field(default_factory=dict)  # PerfectView id -> Debiteurnummer
    invoice_ids: list[str] = field(default_factory=list)  # every sales invoice activity generated
    sent_invoice_ids: list[str] = field(default_factory=list)  # in step Verstuurd (or further), not booked
    booked: dict[str, int] = field(default_factory=dict)  # invoice number -> Mutatienummer in e-Boekhouden
    open_items: dict[str, Decimal] = field(default_factory=dict)  # invoice number -> amount still open
    paid_in_full: list[str] = field(default_factory=list)  # booked invoice numbers with nothing open
    eboekhouden_relations: list[str] = field(default_factory=list)  # codes created in e-Boekhouden
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {"relations": len(self.relation_ids), "customers": len(self.customers),
                "invoices": len(self.invoice_ids), "sent_unbooked": len(self.sent_invoice_ids),
                "booked": len(self.booked), "open_items": len(self.open_items),
                "paid_in_full": len(self.paid_in_full), "eboekhouden_relations": len(self.eboekhouden_relations)}


@dataclass(frozen=True)
class _Pv:
    """The PerfectView database's names resolved to its GUIDs, once per generation."""

    fields: dict[str, dict[str, PvField]]  # table -> attribute -> field
    types: dict[str, str]  # DescriptionSingular -> entity type id
    countries: dict[str, str]  # ISO code -> country id
    users: tuple[str, ...]
    vats: dict[str, tuple[str, Decimal]]  # description -> (id, percentage)
    products: tuple[tuple[str, str, Decimal, str], ...]  # (id, name, price, VAT description)
    workflow_id: str
    steps: dict[str, str]  # step name -> id

    @classmethod
    def of(cls, db: dict[str, Any]) -> _Pv:
        def scope_fields(scope: str) -> list[PvField]:
            return [PvField(f["Id"], f["Name"], f["Label"], f["CategoryName"], f["Control"], f["Type"], f["Length"],
                            f["IsRequired"]) for f in db["fields"] if f["scope"] == scope]

        flow = next(w for w in db["workflows"] if w["Name"] == INVOICE_WORKFLOW)
        fields = {"organisation": resolve_fields(TABLES["organisation"], scope_fields("Organisation"), "organisation"),
                  "person": resolve_fields(TABLES["person"], scope_fields("Person"), "person"),
                  "relationship": resolve_fields(TABLES["relationship"], scope_fields("Relationship"), "relationship"),
                  "invoice": resolve_fields(TABLES["invoice"], scope_fields(flow["EntityTypeId"]), "invoice")}
        vats = {v["Description"]: (v["Id"], Decimal(v["Percentage"])) for v in db["vats"]}
        vat_by_id = {vat_id: name for name, (vat_id, _) in vats.items()}
        return cls(fields=fields, types={t["DescriptionSingular"]: t["Id"] for t in db["entity_types"]},
                   countries={c["Code"]: c["Id"] for c in db["countries"]},
                   users=tuple(u["Id"] for u in db["users"]), vats=vats,
                   products=tuple((p["Id"], p["Name"], Decimal(p["SalesPrice"]), vat_by_id[p["SalesVatId"]])
                                  for p in db["products"] if not p["IsInactive"]),
                   workflow_id=flow["Id"], steps={s["Name"]: s["Id"] for s in flow["steps"]})


@dataclass(frozen=True)
class _Settings:
    """The parts of pvsync's configuration the e-Boekhouden side must agree with."""

    vat_rules: dict[str, VatRule]
    person_name_format: str = "Voornaam Achternaam"
    booking: BookingSettings = BookingSettings()

    @classmethod
    def of_world(cls, world: SimulatedWorld) -> _Settings:
        config = world.config()
        return cls(vat_rules=dict(config.vat.own_rules()), person_name_format=config.relations.person_name_format,
                   booking=BookingSettings(debtors_ledger=config.invoices.debtors_ledger,
                                           description_template=config.invoices.description_template))


def generate(world_or_simulators: SimulatedWorld | tuple[EboekhoudenSimulator, PerfectViewSimulator], *,
             relations: int, invoices: int, open_items: bool, seed: int,
             today: date | None = None, concept_share: float = CONCEPT_SHARE) -> GeneratedOrganisation:
    """Fill both simulators with a generated organisation; see the module docstring.

    Given a SimulatedWorld, the e-Boekhouden bookings follow its config (VAT mapping,
    debtors ledger, description template); given `(eboekhouden, perfectview)`
    simulators, the demo's VAT mapping. Invoices whose VAT the mapping does not cover are
    never booked here, as pvsync would not book them either. `concept_share` of the
    invoices stay in Concept (0 when a benchmark wants every invoice sent).
    """
    if relations < 0 or invoices < 0:
        raise ValueError("relations and invoices are counts: 0 or more")
    if isinstance(world_or_simulators, tuple):
        eb, pv = world_or_simulators
        settings = _Settings(vat_rules=dict(DEFAULT_VAT_RULES))
    else:
        eb, pv = world_or_simulators.eboekhouden, world_or_simulators.perfectview
        settings = _Settings.of_world(world_or_simulators)
    started = time.perf_counter()
    rng = random.Random(seed)
    today = today or datetime.now(AMSTERDAM).date()
    made = GeneratedOrganisation()
    with ExitStack() as stack:
        stack.enter_context(eb.lock)
        stack.enter_context(pv.lock)
        stack.enter_context(_quiet(eb))
        stack.enter_context(_quiet(pv))
        stack.enter_context(_indexed(eb))
        stack.enter_context(_aged(pv))
        writer = _Writer(pv, eb, _Pv.of(pv.db), settings, rng, today, made, concept_share)
        crm = writer.relations(relations)
        if invoices and not made.customers:
            raise ValueError("no customer relations to invoice: generate relations as well")
        writer.invoices(invoices, crm, book=open_items)
    for sim in (eb, pv):
        if sim.state_file is not None:
            sim.save_state()
    made.seconds = time.perf_counter() - started
    return made


# --------------------------------------------------------------------------- making records


class _Writer:
    def __init__(self, pv: PerfectViewSimulator, eb: EboekhoudenSimulator, names: _Pv, settings: _Settings,
                 rng: random.Random, today: date, made: GeneratedOrganisation, concept_share: float):
        self.pv, self.eb, self.names, self.settings = pv, eb, names, settings
        self.concept_share = concept_share
        self.rng, self.today, self.made = rng, today, made
        self.links: dict[str, str] = {}  # relation id -> its relationship to the own organisation
        self.pdf = base64.b64encode(DEMO_PDF).decode("ascii")

    # ------------------------------------------------------------------ relations

    def relations(self, count: int) -> dict[str, CrmRelation]:
        """`count` relations in PerfectView; returns the customers by id."""
        customers: dict[str, CrmRelation] = {}
        existing = len(self.pv.db["relations"])
        for index in range(count):
            number = existing + index
            is_customer = self.rng.random() < 2 / 3
            debtor = str(FIRST_DEBTOR_NUMBER + number) if is_customer else ""
            relation = _relation(self.rng, number, debtor)
            if relation.kind is RelationKind.PERSON:
                relation_type = "Persoon"
            else:
                relation_type = "Klant" if is_customer else self.rng.choice(("Prospect", "Suspect", "Te beoordelen"))
            relation_id = self._create_relation(relation, relation_type)
            self.made.relation_ids.append(relation_id)
            if is_customer:
                self.made.customers[relation_id] = debtor
                customers[relation_id] = replace(relation, id=relation_id, relation_type=relation_type)
        return customers

    def _create_relation(self, relation: CrmRelation, relation_type: str) -> str:
        names = self.names
        values = relation_values(relation, names.fields[table_for(relation.kind)], names.countries.__getitem__,
                                 skip_empty=True)
        manager = {"Id": names.fields["relationship"]["account_manager"].id, "Value": self.rng.choice(names.users)}
        answer = self.pv.op_RelationCreate({
            "parentRelationId": sim_database.ROOT_ID, "relationEntityTypeId": names.types[relation_type],
            "relationFieldValues": values, "relationshipEntityTypeId": names.types[CUSTOMER_RELATIONSHIP_TYPE],
            "relationshipFieldValues": [manager]})
        relation_id = answer["Relation"]["Id"]
        self.links[relation_id] = answer["Relationship"]["Id"]
        return relation_id

    # ------------------------------------------------------------------ invoices

    def invoices(self, count: int, customers: dict[str, CrmRelation], *, book: bool) -> None:
        year = self.today.year
        first = len(self.pv.db["activities"]) + 1
        customer_ids = list(customers)
        for offset in range(count):
            relation = customers[self.rng.choice(customer_ids)]
            invoice = self._invoice(relation, f"{year}{first + offset:06d}")
            self.made.invoice_ids.append(invoice.activity_id)
            if invoice.step == "Concept":
                continue
            booked = book and self.rng.random() < BOOKED_SHARE and self._book(invoice, relation)
            if not booked:
                self.made.sent_invoice_ids.append(invoice.activity_id)

    def _invoice(self, relation: CrmRelation, number: str) -> SalesInvoice:
        rng, names = self.rng, self.names
        invoice_date = self.today - timedelta(days=rng.randint(0, 120))
        due_date = invoice_date + timedelta(days=rng.choice((14, 14, 30, 30, 30, 60)))
        includes_vat = rng.random() < INCLUDES_VAT_SHARE
        fields = names.fields["invoice"]
        values = {"invoice_number": number, "invoice_date": invoice_date.isoformat(),
                  "due_date": due_date.isoformat(), "amounts_include_vat": str(includes_vat)}
        answer = self.pv.op_ActivityCreate({
            "settings": {"WorkflowId": names.workflow_id, "WorkflowStepId": names.steps["Concept"],
                         "ParentRelationshipId": self.links[relation.id], "ChildRelationshipId": NIL_GUID},
            "fieldValues": [{"Id": fields[a].id, "Value": v} for a, v in values.items()],
            "connectToActivityId": NIL_GUID})
        activity = answer["Activity"]
        activity_id = activity["Id"]
        lines = tuple(self._line(activity_id, *spec) for spec in _line_specs(rng, names, relation))
        self.pv.op_ActivityAddAttachment({"activityId": activity_id, "fileName": f"Factuur {number}.pdf",
                                          "base64EncodedFile": self.pdf})
        step = "Concept" if rng.random() < self.concept_share else "Verstuurd"
        if step == "Verstuurd":
            self._flow(activity_id, "Verstuurd")
        # The total as the simulator keeps it from the lines: what a booking made here is checked against.
        total = Decimal(self.pv.db["activities"][activity_id]["values"][fields["total"].id])
        return SalesInvoice(activity_id=activity_id, activity_number=activity["Number"], invoice_number=number,
                            relation_id=relation.id, invoice_date=invoice_date, due_date=due_date, step=step,
                            lines=lines, amounts_include_vat=includes_vat, total=total)

    def _line(self, activity_id: str, description: str, quantity: Decimal, amount: Decimal, vat: str,
              product_id: str) -> InvoiceLine:
        vat_id, percentage = self.names.vats[vat]
        line = self.pv.op_ActivityAddProductLine({
            "activityId": activity_id, "vatId": vat_id, "productId": product_id, "quantity": quantity,
            "amount": amount, "purchaseAmount": Decimal(0), "description": description})["ProductLineData"]
        return InvoiceLine(description=description, quantity=quantity, amount=amount,
                           total_amount=Decimal(line["TotalAmount"]), vat_id=vat_id, vat_description=vat,
                           vat_percentage=percentage, id=line["Id"])

    def _flow(self, activity_id: str, step: str) -> None:
        self.pv.op_ActivityFlow({"activityId": activity_id, "transitionId": self.names.steps[step],
                                 "userId": NIL_GUID, "queueId": NIL_GUID})

    # ------------------------------------------------------------------ e-Boekhouden

    def _book(self, invoice: SalesInvoice, relation: CrmRelation) -> bool:
        """Book `invoice` as pvsync would have; False when pvsync could not book it (unmapped VAT)."""
        settings = self.settings
        code = relation.debtor_number
        eb_relation = self.eb.relation_by_code(code)
        wanted = eb_relation or merge_into(None, relation, settings.person_name_format)
        plan = plan_booking(invoice, debtor_number=code, relation_name=wanted.bedrijf, relation_in_eboekhouden=True,
                            rules=settings.vat_rules, own_country="NL", settings=settings.booking)
        if not isinstance(plan, Ready):
            return False
        if eb_relation is None:
            self.eb.store_relation(replace(wanted, add_datum=invoice.invoice_date - timedelta(days=30)))
            self.made.eboekhouden_relations.append(code)
        booking = plan.booking
        number = self.eb.store_mutation(booking, "" if booking.payment_term_days is None
                                        else str(booking.payment_term_days))
        self.pv.op_ActivityUpdate({"activityId": invoice.activity_id, "fieldValues": [
            {"Id": self.names.fields["invoice"]["booked_marker"].id,
             "Value": f"Geboekt op {invoice.invoice_date.isoformat()}, mutatie {number}"}]})
        self.made.booked[invoice.invoice_number] = number
        self._pay(booking)
        return True

    def _pay(self, booking: Booking) -> None:
        """Most booked invoices are still open; some are paid in part, some in full."""
        total = booking.total_incl_vat()
        roll = self.rng.random()
        if total <= 0 or roll < 0.5:
            self.made.open_items[booking.invoice_number] = total
            return
        paid = total if roll < 0.85 else round_cents(total * Decimal(self.rng.choice(("0.25", "0.5"))))
        day = min(self.today, booking.datum + timedelta(days=self.rng.randint(3, 40)))
        self.eb.store_mutation(Booking(
            soort=MutatieSoort.FACTUURBETALING_ONTVANGEN, datum=day, ledger="1010",
            relation_code=booking.relation_code, invoice_number=booking.invoice_number,
            description=f"Betaling factuur {booking.invoice_number}", in_ex_vat="EX",
            lines=(BookingLine(amount_excl_vat=paid, vat_amount=Decimal("0.00"), amount_incl_vat=paid,
                               btw_code="GEEN", btw_percentage=Decimal(0), ledger=booking.ledger,
                               amount_entered=paid),)))
        if paid == total:
            self.made.paid_in_full.append(booking.invoice_number)
        else:
            self.made.open_items[booking.invoice_number] = total - paid


def _line_specs(rng: random.Random, names: _Pv, relation: CrmRelation) -> list[tuple]:
    """(description, quantity, amount, VAT description, product id) per line of one invoice.

    The VAT follows the kind of customer: reverse-charged work for contractors, 0% EU for a
    customer abroad, otherwise mostly 21% with some 9% and now and then a 0% line.
    """
    abroad = relation.visiting_address.country not in ("", "NL") or relation.private_address.country not in ("", "NL")
    profile = "eu" if abroad else rng.choices(("domestic", "verlegd", "zero"), (85, 10, 5))[0]
    credit = rng.random() < CREDIT_SHARE
    specs = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        if rng.random() < 0.5 and names.products:
            product_id, description, amount, vat = rng.choice(names.products)
            quantity = Decimal(rng.choice(("1", "1", "2", "3", "1.5", "8", "12")))
        else:
            product_id, description = NIL_GUID, rng.choice(FREE_LINES)
            amount = Decimal(rng.randint(1500, 250000)) / 100
            quantity = Decimal(1)
            vat = "BTW laag 9%" if rng.random() < 0.2 else "BTW hoog 21%"
        if profile == "verlegd":
            vat = "BTW verlegd"
        elif profile == "eu":
            vat = "BTW EU 0%"
        elif profile == "zero" and not specs:
            vat = "BTW 0%"
        if credit:
            description, quantity = f"Creditering: {description}", -quantity
        specs.append((description, quantity, amount, vat, product_id))
    return specs


def _relation(rng: random.Random, index: int, debtor_number: str) -> CrmRelation:
    """One Dutch organisation (about 65%) or person, with a valid IBAN and BIC."""
    iban, bic = dutch_iban(rng)
    middle, last = rng.choice(SURNAMES)
    surname = " ".join(p for p in (middle, last) if p)
    slug = "".join(c for c in last.lower() if c.isalpha())
    if rng.random() < 0.65:
        abroad = rng.random() < 0.05
        name = f"{rng.choice(TRADES)} {surname[0].upper()}{surname[1:]} {rng.choice(LEGAL_FORMS)}".strip()
        visiting = _foreign_address(rng) if abroad else _address(rng)
        postal = _address(rng) if rng.random() < 0.3 and not abroad else Address()
        return CrmRelation(id="", kind=RelationKind.ORGANISATION, debtor_number=debtor_number, name=name,
                           visiting_address=visiting, postal_address=postal, iban=iban, bic=bic,
                           phone=_phone(rng, visiting), email=f"info@{slug}{index}.nl",
                           website=f"www.{slug}{index}.nl")
    first, gender = rng.choice(FIRST_NAMES)
    private = _address(rng)
    deviating = _address(rng) if rng.random() < 0.15 else Address()
    return CrmRelation(id="", kind=RelationKind.PERSON, debtor_number=debtor_number, first_name=first,
                       middle_name=middle, last_name=last, gender=gender, private_address=private,
                       deviating_address=deviating, iban=iban, bic=bic, phone=_phone(rng, private),
                       mobile=f"06-{rng.randint(10000000, 99999999)}",
                       email=f"{first.lower()}.{slug}{index}@example.nl")


def _address(rng: random.Random) -> Address:
    city, prefix, _ = rng.choice(PLACES)
    letters = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
    return Address(street=rng.choice(STREETS), house_number=str(rng.randint(1, 240)),
                   house_number_suffix=rng.choice(("", "", "", "", "a", "b", "bis", "-2")),
                   postcode=f"{prefix}{rng.randint(10, 99)} {letters}", city=city, country="NL")


def _foreign_address(rng: random.Random) -> Address:
    city, postcode, country = rng.choice(FOREIGN_PLACES)
    return Address(street=rng.choice(("Meir", "Korenmarkt", "Königsallee", "Hauptstraße")),
                   house_number=str(rng.randint(1, 120)), postcode=postcode, city=city, country=country)


def _phone(rng: random.Random, address: Address) -> str:
    area = next((a for c, _, a in PLACES if c == address.city), "")
    if not area:
        return f"+32 3 {rng.randint(200, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
    return f"{area}-{rng.randint(10 ** (9 - len(area)), 10 ** (10 - len(area)) - 1)}"


# --------------------------------------------------------------------------- simulator housekeeping


@contextmanager
def _quiet(sim: Any) -> Iterator[None]:
    """Generating is not traffic: the simulator's event log stays as it was."""
    before = len(sim.events)
    try:
        yield
    finally:
        del sim.events[before:]


@contextmanager
def _aged(pv: PerfectViewSimulator) -> Iterator[None]:
    pv.clock_offset -= GENERATED_AGE
    try:
        yield
    finally:
        pv.clock_offset += GENERATED_AGE


@contextmanager
def _indexed(eb: EboekhoudenSimulator) -> Iterator[None]:
    """Give the e-Boekhouden simulator's lookups an index while generating.

    Its rule functions find a relation by code and an invoice by number by scanning every
    record, which makes 10,000 inserts cost 50 million comparisons. The same lookups
    answered from a dict keep the rules exactly as they are; the instance attributes are
    removed afterwards, so the simulator serves as before.
    """
    relations = {r.code: r for r in eb.relations.values()}
    invoices = {(b.soort, b.relation_code, b.invoice_number): b for b in eb.mutations.values()}
    store_relation, store_mutation = eb.store_relation, eb.store_mutation

    def indexed_store_relation(rel):
        relation_id = store_relation(rel)
        relations[rel.code] = eb.relations[relation_id]
        return relation_id

    def indexed_store_mutation(b, payment_term=""):
        number = store_mutation(b, payment_term)
        stored = eb.mutations[number]
        invoices.setdefault((stored.soort, stored.relation_code, stored.invoice_number), stored)
        return number

    eb.relation_by_code = relations.get
    eb._invoice = lambda soort, code, number: invoices.get((soort, code, number))
    eb.store_relation, eb.store_mutation = indexed_store_relation, indexed_store_mutation
    try:
        yield
    finally:
        for name in ("relation_by_code", "_invoice", "store_relation", "store_mutation"):
            eb.__dict__.pop(name, None)
