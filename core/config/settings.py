"""The settings pvsync runs with: one frozen dataclass per config section.

Each field carries its own parser in its metadata, so the dataclass is the single list
of what the file may contain: the loader walks these fields to read, type-check and
find unknown keys, and `sample_config.toml` documents the same fields one by one (a
test keeps the two in step). Defaults here are the safe defaults the sample shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.config import values as v
from core.config.secret_sources import ANY_TEXT, GUID_FORMAT, HEX_32_FORMAT, USERNAME, SecretFormat
from core.model import PERSON_NAME_FORMATS, VatRule
from core.secrets import Secret

RELATION_TYPES = ("Klant", "Prospect", "Suspect", "Te beoordelen")
# Which e-Boekhouden relations count as customers when importing into PerfectView.
CUSTOMER_SELECTIONS = ("with_sales", "with_open_items", "all")
DOCUMENT_POLICIES = ("ask", "newest_pdf")
DESCRIPTION_PLACEHOLDERS = ("invoice_number", "relation_name", "debtor_number", "activity_number", "invoice_date")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# The two e-Boekhouden APIs (`eboekhouden.api`): REST takes an API token, SOAP a username and two security codes.
EBOEKHOUDEN_APIS = ("rest", "soap")
EBOEKHOUDEN_URL = "https://soap.e-boekhouden.nl/soap.asmx"  # SOAP's address (the setup form asks for SOAP)
EBOEKHOUDEN_REST_URL = "https://api.e-boekhouden.nl"
EBOEKHOUDEN_URLS = {"rest": EBOEKHOUDEN_REST_URL, "soap": EBOEKHOUDEN_URL}
PERFECTVIEW_URL = "https://api.perfectview.nl/V1/perfectview.asmx"

# Schedules: invoices may be polled every few minutes; more than a month apart is a typo.
_INTERVAL = dict(minimum=timedelta(minutes=1), maximum=timedelta(days=31))


@dataclass(frozen=True)
class Table:
    """Metadata marker: this field is a sub-table read into `settings`."""

    settings: type


@dataclass(frozen=True)
class SecretOption:
    """Metadata marker: this field is a credential, read from env, `<key>_file` or the file."""

    format: SecretFormat
    required: bool = True
    api: str | None = None  # an e-Boekhouden credential: required only when `eboekhouden.api` is this


def option(default: Any, parse: v.Parser) -> Any:
    return field(default=default, metadata={"parse": parse})


def secret(fmt: SecretFormat, *, required: bool = True, api: str | None = None) -> Any:
    return field(default=Secret(""), metadata={"parse": SecretOption(fmt, required, api)})


def table(settings: type) -> Any:
    return field(default_factory=settings, metadata={"parse": Table(settings)})


@dataclass(frozen=True)
class EboekhoudenSettings:
    # A file without `api` (written before REST) is read as "soap" when it holds SOAP credentials
    # (core.config.load); "rest" is the default otherwise.
    api: str = option("rest", v.choice(EBOEKHOUDEN_APIS))
    # "": the chosen API's own address (`address`).
    url: str = option("", v.https_url(example=EBOEKHOUDEN_REST_URL, optional=True))
    username: Secret = secret(USERNAME, api="soap")
    security_code_1: Secret = secret(HEX_32_FORMAT, api="soap")
    security_code_2: Secret = secret(GUID_FORMAT, api="soap")
    api_token: Secret = secret(ANY_TEXT, api="rest")
    source: str = option("pvsync", v.rest_source())
    # REST publishes no rate limit: pvsync starts at this many calls a second and slows down when throttled.
    calls_per_second: float = option(5.0, v.number(0, 100, example=5, above_minimum=True))
    connect_timeout: float = option(10.0, v.number(0, 120, example=10, above_minimum=True))
    read_timeout: float = option(60.0, v.number(0, 900, example=60, above_minimum=True))
    ca_file: Path | None = option(None, v.ca_file())

    @property
    def address(self) -> str:
        """The address the client calls: `url`, or the chosen API's own."""
        return self.url or EBOEKHOUDEN_URLS[self.api]


@dataclass(frozen=True)
class FieldNameSettings:
    """[perfectview.fields]: which field of this PerfectView database holds an attribute, where
    its label differs from pvsync's default (core.perfectview.fields). Key: `attribute` or
    `table.attribute`; value: "Category / Label" or a field's Name. Read by the loader's own
    reader (its keys are data, not field names); `pvsync check` says which fields exist."""

    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class PerfectViewSettings:
    url: str = option(PERFECTVIEW_URL, v.https_url(example=PERFECTVIEW_URL))
    api_key: Secret = secret(GUID_FORMAT)
    database_id: Secret = secret(GUID_FORMAT)
    user_id: Secret = secret(GUID_FORMAT)
    connect_timeout: float = option(10.0, v.number(0, 120, example=10, above_minimum=True))
    read_timeout: float = option(60.0, v.number(0, 900, example=60, above_minimum=True))
    ca_file: Path | None = option(None, v.ca_file())
    # PerfectView counts calls per day; None: pvsync sets no limit of its own (0 in the file).
    daily_call_limit: int | None = option(None, v.limit(10_000_000, example=5000))
    # The relationship type linking the own organisation to a customer; it carries the relatiebeheerder.
    customer_relationship_type: str = option("Relatie", v.text(required=True, max_length=100,
                                                                example='"Relatie"'))
    fields: FieldNameSettings = table(FieldNameSettings)


@dataclass(frozen=True)
class RelationSettings:
    import_from_eboekhouden: bool = option(False, v.boolean())
    export_to_eboekhouden: bool = option(True, v.boolean())
    # Any relation type of the database (pvsync check says which exist); the defaults' four are RELATION_TYPES.
    import_relation_type: str = option("Klant", v.text(required=True, max_length=100, example='"Klant"'))
    account_manager: str = option("", v.text(max_length=100, example='"Jan de Vries"'))
    person_name_format: str = option("Voornaam Achternaam", v.choice(PERSON_NAME_FORMATS))
    customers: str = option("with_sales", v.choice(CUSTOMER_SELECTIONS))
    max_change_share: float = option(0.5, v.number(0, 1, example=0.5, above_minimum=True))
    full_pass_hours: int = option(24, v.whole_number(1, 24 * 31, example=24))


@dataclass(frozen=True)
class DocumentSettings:
    """Sending the invoice document to e-Boekhouden's archive address by e-mail (the SOAP API takes no files)."""

    send: bool = option(False, v.boolean())
    archive_address: str = option("", v.email_address())
    smtp_host: str = option("", v.text(max_length=253, example='"smtp.example.nl"'))
    smtp_port: int = option(587, v.whole_number(1, 65535, example=587))
    smtp_username: str = option("", v.text(max_length=200, example='"facturen@example.nl"'))
    smtp_password: Secret = secret(ANY_TEXT, required=False)
    # True: STARTTLS (port 587); False: TLS from the first byte (port 465). Never unencrypted.
    smtp_starttls: bool = option(True, v.boolean())
    from_address: str = option("", v.email_address())
    policy: str = option("ask", v.choice(DOCUMENT_POLICIES))


@dataclass(frozen=True)
class AlertSettings:
    """Telling a person when something needs them: by e-mail and/or a JSON webhook.

    The mail server settings left empty are taken from [invoices.document]."""

    enabled: bool = option(False, v.boolean())
    email_to: str = option("", v.email_address(example='"beheer@example.nl"'))
    # Slack, Teams and ntfy webhook addresses carry their own token: kept as a secret.
    webhook_url: Secret = secret(ANY_TEXT, required=False)
    smtp_host: str = option("", v.text(max_length=253, example='"smtp.example.nl"'))
    smtp_port: int = option(0, v.whole_number(0, 65535, example=587))
    smtp_username: str = option("", v.text(max_length=200, example='"pvsync@example.nl"'))
    smtp_password: Secret = secret(ANY_TEXT, required=False)
    smtp_starttls: bool = option(True, v.boolean())
    from_address: str = option("", v.email_address())


@dataclass(frozen=True)
class InvoiceSettings:
    enabled: bool = option(True, v.boolean())
    workflow: str = option("Verkoopfactuur", v.text(required=True, example='"Verkoopfactuur"'))
    sent_step: str = option("Verstuurd", v.text(required=True, example='"Verstuurd"'))
    paid_step: str = option("Betaald", v.text(required=True, example='"Betaald"'))
    # The Id of the transition to paid_step, for a database whose ActivityFlow wants one; "": the step's Id.
    paid_transition: str = option("", v.guid(example='"3f2b9c1e-0000-4000-8000-000000000000"'))
    debtors_ledger: str = option("1300", v.ledger_code(example="1300"))
    description_template: str = option("Factuur {invoice_number} {relation_name}",
                                       v.template(DESCRIPTION_PLACEHOLDERS,
                                                  example="Factuur {invoice_number} {relation_name}"))
    document: DocumentSettings = table(DocumentSettings)


@dataclass(frozen=True)
class PaymentSettings:
    enabled: bool = option(False, v.boolean())


@dataclass(frozen=True)
class ScheduleSettings:
    relations: timedelta = option(timedelta(hours=4), v.duration(**_INTERVAL, example="4h"))
    invoices: timedelta = option(timedelta(hours=4), v.duration(**_INTERVAL, example="4h"))
    payments: timedelta = option(timedelta(hours=24), v.duration(**_INTERVAL, example="24h"))


@dataclass(frozen=True)
class VatSettings:
    """The VAT mapping: per own country, PerfectView VAT code description -> BTW-code + grootboekrekening.

    Read by the loader's own VAT reader (its keys are data, not field names).
    """

    own_country: str = "NL"
    mappings: Mapping[str, Mapping[str, VatRule]] = field(default_factory=lambda: MappingProxyType({}))

    def own_rules(self) -> Mapping[str, VatRule]:
        """The rules of the own country, keyed by PerfectView VAT code description."""
        return self.mappings.get(self.own_country, MappingProxyType({}))


@dataclass(frozen=True)
class LogbookSettings:
    retention_days: int = option(365, v.whole_number(1, 3650, example=365))
    level: str = option("INFO", v.log_level(LOG_LEVELS))


@dataclass(frozen=True)
class DisplaySettings:
    # Every time shown to a person (console, command line, log lines, reports, CSV) is in this zone.
    timezone: str = option("Europe/Amsterdam", v.time_zone)


@dataclass(frozen=True)
class EngineSettings:
    # A wall-clock bound on one run (the HTTP timeouts bound one call); see the sample for why 2h.
    run_deadline: timedelta = option(timedelta(hours=2),
                                     v.duration(timedelta(minutes=1), timedelta(hours=24), example="2h"))
    concurrency: int = option(4, v.whole_number(1, 16, example=4))
    # The first writes to an administration (and those after a changed assumption) wait for a person.
    approve_first_run: bool = option(True, v.boolean())


@dataclass(frozen=True)
class ConsoleSettings:
    """The console's own keys: binding id -> keys (`core.config.console_keys`), read by the loader's
    keymap reader (its keys are binding ids, not field names)."""

    keys: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Config:
    eboekhouden: EboekhoudenSettings = table(EboekhoudenSettings)
    perfectview: PerfectViewSettings = table(PerfectViewSettings)
    relations: RelationSettings = table(RelationSettings)
    invoices: InvoiceSettings = table(InvoiceSettings)
    payments: PaymentSettings = table(PaymentSettings)
    schedule: ScheduleSettings = table(ScheduleSettings)
    vat: VatSettings = table(VatSettings)
    logbook: LogbookSettings = table(LogbookSettings)
    engine: EngineSettings = table(EngineSettings)
    alerts: AlertSettings = table(AlertSettings)
    # How times are shown is no sync setting: left out of the fingerprint (compare=False).
    display: DisplaySettings = field(default_factory=DisplaySettings, compare=False,
                                     metadata={"parse": Table(DisplaySettings)})
    # The console's keys are no sync setting: left out of the fingerprint (compare=False).
    console: ConsoleSettings = field(default_factory=ConsoleSettings, compare=False,
                                     metadata={"parse": Table(ConsoleSettings)})
    # Where each secret came from, in words ("environment variable PVSYNC_..."), for `pvsync check`.
    secret_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    # Advice that does not stop pvsync (`pvsync config check` shows it), e.g. "add api = \"soap\"".
    notices: tuple[str, ...] = field(default=(), compare=False)


def secret_value(dotted_key: str, text: str) -> Secret:
    """`text` held as the secret at `dotted_key` holds it (a username stays readable in other text)."""
    settings: Any = Config
    *sections, name = dotted_key.split(".")
    for section in sections:
        settings = {f.name: f for f in fields(settings)}[section].metadata["parse"].settings
    parse = {f.name: f for f in fields(settings)}[name].metadata["parse"]
    return parse.format.secret(text) if isinstance(parse, SecretOption) else Secret(text)
