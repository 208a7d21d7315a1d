"""Fill a PerfectView database with believable Dutch relations and sales invoices, through
the client API only (RelationCreate, ActivityCreate, ActivityAddProductLine, ActivityFlow),
as a real database is filled. Used by the simulator's demo seed, `pvsync demo` and the
performance tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from stdnum import iban as stdnum_iban

from core.model import Address, CrmRelation, Gender, RelationKind
from core.perfectview.client import PerfectViewClient

DEMO_RELATIONS = 20
DEMO_INVOICES = 6

COMPANY_WORDS = ["Bakkerij", "Installatiebedrijf", "Hoveniersbedrijf", "Schildersbedrijf", "Adviesbureau",
                 "Autobedrijf", "Kinderopvang", "Fysiotherapie", "Transport", "Drukkerij", "Tandartspraktijk"]
FAMILY_NAMES = [("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("", "Bakker"), ("van", "Dijk"),
                ("", "Visser"), ("", "Smit"), ("", "Meijer"), ("de", "Boer"), ("", "Mulder"), ("de", "Groot"),
                ("", "Bos"), ("", "Vos"), ("", "Peters"), ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker")]
FIRST_NAMES = [("Daan", Gender.MALE), ("Sem", Gender.MALE), ("Lucas", Gender.MALE), ("Bram", Gender.MALE),
               ("Emma", Gender.FEMALE), ("Julia", Gender.FEMALE), ("Sophie", Gender.FEMALE), ("Anouk", Gender.FEMALE),
               ("Noor", Gender.FEMALE), ("Ruben", Gender.MALE)]
PLACES = [("Utrecht", "35"), ("Amersfoort", "38"), ("Zeist", "37"), ("Houten", "39"), ("Nieuwegein", "34"),
          ("Hilversum", "12"), ("Amsterdam", "10"), ("Arnhem", "68"), ("Den Bosch", "52"), ("Gouda", "28")]
STREETS = ["Dorpsstraat", "Kerkstraat", "Stationsweg", "Molenweg", "Julianalaan", "Beukenlaan", "Industrieweg",
           "Nieuwe Gracht", "Oude Rijn", "Marktplein", "Wilhelminapark", "Vondellaan"]
BANKS = [("ABNA", "ABNANL2A"), ("INGB", "INGBNL2A"), ("RABO", "RABONL2U"), ("SNSB", "SNSBNL2A"), ("TRIO", "TRIONL2U")]
# VAT mix per invoice line: mostly high rate, some low, a few zero-rated.
LINE_MIX = [("Onderhoudsbeurt cv-ketel", "ONDH", "BTW hoog 21%"), ("Arbeid monteur per uur", "UUR", "BTW hoog 21%"),
            ("Na-isolatie spouwmuur per m2", "ISO", "BTW laag 9%"), ("Adviesrapport energielabel", "ADV",
                                                                        "BTW hoog 21%"),
            ("Werkzaamheden in België", None, "BTW EU 0%")]
DEMO_PDF = b"%PDF-1.4\n% pvsync demo invoice\n"


def dutch_iban(rng: random.Random) -> tuple[str, str]:
    """A well-formed (checksummed) Dutch IBAN and its BIC."""
    bank, bic = rng.choice(BANKS)
    account = bank + "".join(rng.choice("0123456789") for _ in range(10))
    return f"NL{stdnum_iban.calc_check_digits('NL00' + account)}{account}", bic


def _address(rng: random.Random) -> Address:
    city, prefix = rng.choice(PLACES)
    postcode = f"{prefix}{rng.randint(10, 99)} {rng.choice('ABCDEGHJKLMNPRSTVWXZ')}{rng.choice('ABCDEGHJKLMNPRSTVWXZ')}"
    return Address(street=rng.choice(STREETS), house_number=str(rng.randint(1, 240)),
                   house_number_suffix=rng.choice(["", "", "", "a", "bis", "-2"]), postcode=postcode, city=city,
                   country="NL")


def demo_relation(rng: random.Random, index: int, debtor_number: str) -> CrmRelation:
    iban, bic = dutch_iban(rng)
    middle, last = rng.choice(FAMILY_NAMES)
    if rng.random() < 0.65:
        name = f"{rng.choice(COMPANY_WORDS)} {' '.join(p for p in (middle.capitalize(), last) if p)}"
        slug = "".join(c for c in last.lower() if c.isalpha())
        postal = _address(rng) if rng.random() < 0.3 else Address()
        return CrmRelation(id="", kind=RelationKind.ORGANISATION, debtor_number=debtor_number, name=name,
                           visiting_address=_address(rng), postal_address=postal, iban=iban, bic=bic,
                           phone=f"030-{rng.randint(2000000, 2999999)}", email=f"info@{slug}{index}.nl",
                           website=f"https://www.{slug}{index}.nl")
    first, gender = rng.choice(FIRST_NAMES)
    deviating = _address(rng) if rng.random() < 0.2 else Address()
    return CrmRelation(id="", kind=RelationKind.PERSON, debtor_number=debtor_number, first_name=first,
                       middle_name=middle, last_name=last, gender=gender, private_address=_address(rng),
                       deviating_address=deviating, iban=iban, bic=bic, phone=f"030-{rng.randint(2000000, 2999999)}",
                       mobile=f"06-{rng.randint(10000000, 99999999)}",
                       email=f"{first.lower()}.{last.lower()}{index}@example.nl")


@dataclass
class Populated:
    relation_ids: list[str] = field(default_factory=list)
    customer_ids: list[str] = field(default_factory=list)  # those with a Debiteurnummer
    invoice_ids: list[str] = field(default_factory=list)


def populate(client: PerfectViewClient, rng: random.Random, relations: int, invoices: int) -> Populated:
    """Create `relations` relations (about two in three with a Debiteurnummer, mostly type
    Klant) and `invoices` sales invoices on the customers, most of them sent (Verstuurd),
    some left in Concept, with mixed VAT lines and the invoice PDF attached."""
    done = Populated()
    users = [u.display_name for u in client.users()]
    existing = sum(1 for _ in client.relations())
    for index in range(existing, existing + relations):
        is_customer = rng.random() < 0.7
        relation = demo_relation(rng, index, str(1000 + index) if is_customer else "")
        relation_type = "Klant" if is_customer else rng.choice(["Prospect", "Suspect", "Te beoordelen"])
        if relation.kind is RelationKind.PERSON:
            relation_type = "Persoon"
        relation_id = client.create_relation(relation, relation_type, rng.choice(users))
        done.relation_ids.append(relation_id)
        if is_customer:
            done.customer_ids.append(relation_id)
    if invoices and not done.customer_ids:
        raise ValueError("no customer relations to invoice; create relations first")
    today = date.today()
    year = today.year
    for number in range(1, invoices + 1):
        invoice_date = today - timedelta(days=rng.randint(0, 45))
        invoice_number = f"F{year}-{rng.randint(100, 999)}{number:03d}"
        activity_id = client.create_invoice(rng.choice(done.customer_ids), invoice_number, invoice_date,
                                            invoice_date + timedelta(days=30))
        for description, product, vat in rng.sample(LINE_MIX, rng.randint(1, 3)):
            quantity = Decimal(rng.choice(["1", "1", "2", "3", "1.5", "8"]))
            amount = (client.product(product).sales_price if product
                      else (Decimal(rng.randint(2000, 90000)) / 100).quantize(Decimal("0.01")))
            client.add_product_line(activity_id, description, quantity, amount, vat, product)
        client.add_attachment(activity_id, f"{invoice_number}.pdf", DEMO_PDF)
        if rng.random() < 0.75:
            client.move_to_step(activity_id, "Verstuurd")
        done.invoice_ids.append(activity_id)
    return done

