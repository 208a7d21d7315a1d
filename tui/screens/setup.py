"""Setup: the credentials of both services, a connection test for each, and the sync options.

Shown first when there is no config file, and from the palette ("Open setup"). It only
creates a config (mode 0600, from the documented sample, via `write_new_config`); an
existing one is edited in an editor or on the VAT screen. Secrets are typed into
password fields, held as `Secret` from there on, and never appear in a notice.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static, Switch

from core.config.settings import EBOEKHOUDEN_REST_URL, EBOEKHOUDEN_URLS, PERFECTVIEW_URL, secret_value
from core.eboekhouden.rest.errors import TOKEN_PAGE
from core.secrets import scrub
from tui.commands import PaletteCommand
from tui.connection_check import check_connection, check_databases
from tui.formatting import path_text
from tui.messages import ConfigWritten
from tui.screens.base import ModeScreen

# (dotted config key, label, placeholder, secret)
REST_FIELDS = (
    ("eboekhouden.api_token", "API token", "the token made in e-Boekhouden (shown once)", True),
    ("eboekhouden.source", "Source", "1 to 10 letters, digits, _ or spaces", False),
)
SOAP_FIELDS = (
    ("eboekhouden.username", "Username", "as shown on the API/SOAP page", True),
    ("eboekhouden.security_code_1", "Security code 1", "32 hexadecimal characters", True),
    ("eboekhouden.security_code_2", "Security code 2", "a GUID: 8-4-4-4-12 characters", True),
)
# Empty: the chosen API's own address (core.config.settings.EBOEKHOUDEN_URLS).
URL_FIELD = (("eboekhouden.url", "Service address", EBOEKHOUDEN_REST_URL, False),)
EBOEKHOUDEN_FIELDS = {"rest": REST_FIELDS + URL_FIELD, "soap": SOAP_FIELDS + URL_FIELD}
# REST first: e-Boekhouden hands out API tokens today; SOAP stays for those who have security codes.
API_CHOICES = [("REST API: an API token (new setups)", "rest"),
               ("SOAP API: username and security codes 1 and 2", "soap")]
PERFECTVIEW_FIELDS = (
    ("perfectview.api_key", "API key", "a GUID", True),
    ("perfectview.database_id", "Database id", "a GUID", True),
    ("perfectview.user_id", "User id", "a GUID", True),
    ("perfectview.url", "Service address", PERFECTVIEW_URL, False),
)
OPTION_FIELDS = (
    ("schedule.relations", "Relations every", "4h", False),
    ("schedule.invoices", "Invoices every", "4h", False),
    ("schedule.payments", "Payments every", "24h", False),
    ("vat.own_country", "Own country", "NL", False),
)
SWITCHES = (
    ("relations.export_to_eboekhouden", "Send PerfectView relations to e-Boekhouden", True),
    ("relations.import_from_eboekhouden", "Import e-Boekhouden customers into PerfectView (once)", False),
    ("invoices.enabled", "Book sent invoices in e-Boekhouden", True),
    ("payments.enabled", "Mark paid invoices Betaald in PerfectView", False),
)
DEFAULTS = {"eboekhouden.source": "pvsync", "perfectview.url": PERFECTVIEW_URL, "schedule.relations": "4h",
            "schedule.invoices": "4h", "schedule.payments": "24h", "vat.own_country": "NL"}

EBOEKHOUDEN_WHERE = {
    "rest": (f"In e-Boekhouden (https://secure.e-boekhouden.nl/bh): {TOKEN_PAGE}: make a token for pvsync and "
             "copy it (it is shown once). Source is the name pvsync gives itself in e-Boekhouden: 1 to 10 "
             "letters, digits, underscores or spaces (no hyphens or accents)."),
    "soap": ("In e-Boekhouden (https://secure.e-boekhouden.nl/bh): Beheer > Instellingen > Koppelingen, "
             "then Verder in the API/SOAP menu. That page shows the username, security code 1 and "
             "security code 2."),
}
DATABASES_WHERE = ("Once the config is saved: pvsync checks that both databases have what it relies on (fields, "
                   "relation types, the invoice workflow and its steps, ledgers). For what is missing, choose "
                   "what your database uses instead; the choice is written to the config and checked again.")
PERFECTVIEW_WHERE = ("In PerfectView CRM Online: Instellingen > Koppelingen > API. It shows the API key, the "
                     "database id and the user id (three GUIDs); changes pvsync makes are recorded under "
                     "that user.")


API_SELECT = "setup-eboekhouden-api"


def field_id(key: str) -> str:
    return "setup-" + key.replace(".", "-").replace("_", "-")


class SetupScreen(ModeScreen):
    HELP = ("Creates the config file. Choose e-Boekhouden's API (REST with an API token for new setups, SOAP "
            "with the username and security codes), fill in the credentials of both services (where to find them is written "
            "above each group), test each connection, choose the sync options, then save (F2). Secrets are "
            "saved in the config file, readable by you only; the file can be edited afterwards.")

    BINDINGS = [
        Binding("f2", "save", "Save", id="setup-save", tooltip="Write the config file (readable by you only)"),
        Binding("f3", "check('eboekhouden')", "Test e-Boekhouden", id="setup-test-eb",
                tooltip="Check the e-Boekhouden credentials with one call"),
        Binding("f4", "check('perfectview')", "Test PerfectView", id="setup-test-pv",
                tooltip="Check the PerfectView credentials with one call"),
        Binding("f5", "check_databases", "Check databases", id="setup-check-databases", show=False,
                tooltip="Check what pvsync assumes about both databases (read-only), as pvsync check does"),
        Binding("f6", "use_choices", "Use choices", id="setup-use-choices", show=False,
                tooltip="Write the chosen names to the config and check again"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="setup-body"):
            yield Static(id="setup-intro")
            yield Static("e-Boekhouden", classes="section-title")
            with Horizontal(classes="field-row"):
                yield Label("API", classes="field-label")
                yield Select(API_CHOICES, value="rest", allow_blank=False, id=API_SELECT, compact=True)
            yield Static(EBOEKHOUDEN_WHERE["rest"], id="setup-eboekhouden-where", classes="where")
            with Vertical(id="setup-rest-fields", classes="api-fields"):
                yield from self._inputs(REST_FIELDS)
            with Vertical(id="setup-soap-fields", classes="api-fields"):
                yield from self._inputs(SOAP_FIELDS)
            yield from self._inputs(URL_FIELD)
            with Horizontal(classes="test-row"):
                yield Button("Test e-Boekhouden (F3)", id="test-eboekhouden")
                yield Static("", id="result-eboekhouden", classes="test-result")
            yield Static("PerfectView", classes="section-title")
            yield Static(PERFECTVIEW_WHERE, classes="where")
            yield from self._inputs(PERFECTVIEW_FIELDS)
            with Horizontal(classes="test-row"):
                yield Button("Test PerfectView (F4)", id="test-perfectview")
                yield Static("", id="result-perfectview", classes="test-result")
            yield Static("Sync options", classes="section-title")
            yield from self._inputs(OPTION_FIELDS)
            for key, label, on_by_default in SWITCHES:
                with Horizontal(classes="switch-row"):
                    yield Switch(on_by_default, id=field_id(key))
                    yield Label(label)
            with Horizontal(classes="test-row"):
                yield Button("Save config (F2)", id="setup-save-button", variant="primary")
                yield Static("", id="setup-result", classes="test-result")
            yield Static("Your databases", classes="section-title")
            yield Static(DATABASES_WHERE, classes="where")
            with Horizontal(classes="test-row"):
                yield Button("Check databases (F5)", id="check-databases")
                yield Static("", id="result-databases", classes="test-result")
            yield Vertical(id="setup-choices")

    def _inputs(self, specs) -> ComposeResult:
        for key, label, placeholder, secret in specs:
            with Horizontal(classes="field-row"):
                yield Label(label, classes="field-label")
                yield Input(DEFAULTS.get(key, ""), placeholder=placeholder, password=secret, id=field_id(key),
                            compact=True)

    def on_mount(self) -> None:
        path = path_text(self.console.config_path, full=not self.console.deterministic)
        if self.console.config_path.exists():
            intro = (f"A config file exists ({path}). Setup only creates new ones: edit that file, or the VAT "
                     f"mapping on screen 3. Press ctrl+p to go to another screen.")
        else:
            intro = (f"There is no config file yet ({path}). Fill in this form and save with F2; nothing is "
                     f"sent anywhere until you test a connection. ctrl+p leaves this screen.")
        self.query_one("#setup-intro", Static).update(Text(intro))
        self._show_api_fields("rest")
        self._missing: list = []  # what the last database check found missing, in the order shown

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Save config", "Write the config file from this form", self.action_save),
                PaletteCommand("Check databases", "What pvsync assumes about both databases, checked",
                               self.action_check_databases),
                PaletteCommand("Test e-Boekhouden", "Check the credentials with one call",
                               lambda: self.action_check("eboekhouden")),
                PaletteCommand("Test PerfectView", "Check the credentials with one call",
                               lambda: self.action_check("perfectview"))]

    @property
    def api(self) -> str:
        return str(self.query_one(f"#{API_SELECT}", Select).value)

    @on(Select.Changed, f"#{API_SELECT}")
    def _api_chosen(self, event: Select.Changed) -> None:
        self._show_api_fields(str(event.value))
        self.query_one("#result-eboekhouden", Static).update("")  # a result of the other API no longer holds

    def _show_api_fields(self, api: str) -> None:
        """Only the chosen API's credentials are asked; the other group is hidden, not cleared."""
        self.query_one("#setup-rest-fields").display = api == "rest"
        self.query_one("#setup-soap-fields").display = api == "soap"
        self.query_one("#setup-eboekhouden-where", Static).update(EBOEKHOUDEN_WHERE[api])
        self.query_one(f"#{field_id('eboekhouden.url')}", Input).placeholder = EBOEKHOUDEN_URLS[api]

    def form_values(self) -> dict[str, object]:
        """The form as dotted config keys; secrets wrapped at once so they can only leak as stars.
        Of e-Boekhouden, only the chosen API's keys: the other's stay as the sample has them."""
        api = self.api
        values: dict[str, object] = {"eboekhouden.api": api}
        for key, _, _, secret in (*EBOEKHOUDEN_FIELDS[api], *PERFECTVIEW_FIELDS, *OPTION_FIELDS):
            text = self.query_one(f"#{field_id(key)}", Input).value.strip()
            values[key] = secret_value(key, text) if secret else text
        for key, _, _ in SWITCHES:
            values[key] = self.query_one(f"#{field_id(key)}", Switch).value
        return values

    # ------------------------------------------------------------------ testing

    @on(Button.Pressed, "#test-eboekhouden")
    def _test_eboekhouden(self) -> None:
        self.action_check("eboekhouden")

    @on(Button.Pressed, "#test-perfectview")
    def _test_perfectview(self) -> None:
        self.action_check("perfectview")

    def action_check(self, section: str) -> None:
        self.query_one(f"#result-{section}", Static).update("testing...")
        self.run_check(section, self.form_values())

    @work(thread=True, exit_on_error=False, group="setup-test", description="Testing the connection")
    def run_check(self, section: str, values: dict[str, object]) -> None:
        ok, message = check_connection(section, values)
        self.app.call_from_thread(self._show_result, f"#result-{section}", ok, message)

    def _show_result(self, selector: str, ok: bool, message: str) -> None:
        self.query_one(selector, Static).update(Text(("OK: " if ok else "FAILED: ") + scrub(message)))

    # ------------------------------------------------------------------ the databases

    @on(Button.Pressed, "#check-databases")
    def action_check_databases(self) -> None:
        if not self.console.config_path.exists():
            self._show_result("#result-databases", False, "save the config first (F2)")
            return
        self.query_one("#result-databases", Static).update("checking...")
        self.run_database_check()

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-databases",
          description="Checking the databases")
    def run_database_check(self) -> None:
        problem, findings = check_databases(self.console.config_path)
        self.app.call_from_thread(self._show_findings, problem, findings)

    async def _show_findings(self, problem: str, findings: list) -> None:
        from core.assumptions.report import summary

        from core.assumptions import NOT_CHECKED

        self._missing = [f for f in findings if f.blocks]
        # What waits for a choice above (several workflows equally near) is said, not offered.
        waiting = [f for f in findings if f.status == NOT_CHECKED and f.needed]
        box = self.query_one("#setup-choices", Vertical)
        await box.remove_children()  # the choices of the last check, before the new ones take their ids
        if problem:
            self._show_result("#result-databases", False, problem)
            return
        self._show_result("#result-databases", not self._missing, summary(findings, lines_are="below"))
        for number, finding in enumerate(self._missing):
            box.mount(Static(Text(f"{finding.service}: {finding.what}: {finding.detail}"), classes="where"))
            if finding.fixes:
                # Text: "[invoices]" would otherwise be read as console markup and vanish.
                options = [(Text(fix.text()), index) for index, fix in enumerate(finding.fixes)]
                box.mount(Select(options, value=0, allow_blank=False, id=f"setup-choice-{number}", compact=True))
        for finding in waiting:
            box.mount(Static(Text(f"{finding.service}: {finding.what}: {finding.detail}"), classes="where"))
        if any(f.fixes for f in self._missing):
            box.mount(Button("Use these choices (F6)", id="setup-use-choices-button", variant="primary"))

    @on(Button.Pressed, "#setup-use-choices-button")
    def action_use_choices(self) -> None:
        changes = {}
        for number, finding in enumerate(self._missing):
            if finding.fixes:
                fix = finding.fixes[self.query_one(f"#setup-choice-{number}", Select).value]
                changes[fix.key] = fix.value
        if changes:
            self.query_one("#result-databases", Static).update("writing the choices...")
            self.write_choices(changes)

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-databases",
          description="Writing the choices")
    def write_choices(self, changes: dict) -> None:
        from core.config import ConfigError
        from core.config.write import update_config_paths

        try:
            update_config_paths(self.console.config_path, changes)  # tomlkit: comments and order kept
        except ConfigError as error:
            problems = "; ".join(f"{p.key}: {p.message}" for p in error.problems)
            self.app.call_from_thread(self._show_result, "#result-databases", False, f"not written: {problems}")
            return
        problem, findings = check_databases(self.console.config_path)
        self.app.call_from_thread(self._show_findings, problem, findings)

    # ------------------------------------------------------------------ saving

    @on(Button.Pressed, "#setup-save-button")
    def action_save(self) -> None:
        if self.console.config_path.exists():
            self.notify("A config file exists already; setup does not replace it.", severity="warning")
            return
        self.write_config(self.form_values())

    @work(thread=True, exit_on_error=False, group="setup-save", description="Writing the config")
    def write_config(self, values: dict[str, object]) -> None:
        from core.config import ConfigError, load_config, write_new_config

        path = self.console.config_path
        try:
            write_new_config(path, values)
        except ConfigError as error:
            problems = "; ".join(f"{p.key}: {p.message}" for p in error.problems)
            self.app.call_from_thread(self._show_result, "#setup-result", False, f"not saved: {problems}")
            return
        try:
            load_config(path)
            verdict = "saved and complete."
        except ConfigError as error:  # written, but something is still missing (e.g. a secret left empty)
            verdict = "saved, but still to fix: " + "; ".join(f"{p.key}: {p.message}" for p in error.problems)
        self.app.call_from_thread(self._show_result, "#setup-result", True, verdict)
        self.post_message(ConfigWritten(path))
        if verdict == "saved and complete.":
            # The same check as `pvsync check`, right after the connection works.
            self.app.call_from_thread(self.action_check_databases)

    def on_config_written(self, message: ConfigWritten) -> None:
        self.notify("Config written (readable by you only). The engine starts when the config is complete.",
                    title="Setup")
        self.console.config_written()
