"""VAT mapping (key 3): per PerfectView VAT code of the own country, the BTW-code and grootboekrekening.

The mapping lives in the config file. The screen reads it without the secrets (those
may live only in the daemon's environment), checks an edited row with the same parsers
the config loader uses, and saves through `set_vat_rule`, which keeps the file's
comments. After a save the engine is asked to reload its config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from core.model import BTW_CODES, VatRule, VatSide
from tui.commands import PaletteCommand
from tui.messages import VatRuleSaved
from tui.screens.base import ModeScreen

SALES_CODES = [code for code, btw in BTW_CODES.items() if btw.side is VatSide.SALES]
# The meaning last: on a narrow terminal it is the column that may be cut. Fixed widths:
# rows are updated in place, and a column sized by its first values would cut later ones.
COLUMNS = (("pv", "PerfectView VAT code", 22), ("btw", "BTW-code", 13), ("ledger", "Grootboek", 10),
           ("check", "Check", 16), ("what", "Meaning", 40))


@dataclass(frozen=True)
class VatMapping:
    """What the screen shows: the own country and its rules, or why they cannot be read."""

    country: str
    rules: list[VatRule]
    problem: str = ""


def read_vat_mapping(config_path: Path) -> VatMapping:
    """The own country's rules from the config file, secrets not needed."""
    from core.config import ConfigError
    from core.config.load import check_text, read_config_text

    try:
        text = read_config_text(config_path)
    except ConfigError as error:
        return VatMapping("", [], problem=error.problems[0].message if error.problems else str(error))
    config, problems = check_text(text, config_path, env={}, with_secrets=False)
    if config is None:
        return VatMapping("", [], problem=str(problems[0]))
    rules = sorted(config.vat.own_rules().values(), key=lambda rule: rule.perfectview_vat.lower())
    vat_problems = [p for p in problems if p.key.startswith("vat")]
    return VatMapping(config.vat.own_country, rules, problem=str(vat_problems[0]) if vat_problems else "")


def check_vat_rule(config_path: Path, perfectview_vat: str, btw_code: str, ledger: str) -> list[str]:
    """Everything wrong with a row, in words; empty when it may be saved.

    Uses the config loader's own parsers, so what the screen accepts the file accepts."""
    from core.config import values
    from core.config.problems import Invalid

    problems = []
    if not perfectview_vat.strip():
        problems.append("PerfectView VAT code: give its description as PerfectView shows it, e.g. BTW hoog 21%")
    context = values.ParseContext(config_dir=config_path.parent)
    for label, parse, value in (("BTW-code", values.btw_code, btw_code),
                                ("Grootboekrekening", values.ledger_code(), ledger)):
        try:
            parse(value, context)
        except Invalid as problem:
            problems.append(f"{label} {problem.message}: {problem.fix}")
    code = BTW_CODES.get(btw_code.strip().upper())
    if code is not None and code.side is VatSide.SALES and not code.current:
        problems.append(f"BTW-code {code.code} is an old rate ({code.description}); choose a current code")
    return problems


def rule_check(rule: VatRule) -> str:
    code = BTW_CODES.get(rule.btw_code)
    if code is None or code.side is not VatSide.SALES:
        return "NOT A SALES CODE"
    return "OK" if code.current else "OLD RATE"


class VatRuleEditor(ModalScreen[VatRule | None]):
    """Edit or add one row; Save checks first and stays open, naming each problem."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="vat-cancel", tooltip="Close without saving"),
        Binding("f2", "save", "Save", id="vat-save", tooltip="Check and save this row"),
    ]

    def __init__(self, config_path: Path, rule: VatRule | None):
        super().__init__()
        self.config_path = config_path
        self.rule = rule

    def compose(self) -> ComposeResult:
        rule = self.rule
        options = [(f"{code}  {BTW_CODES[code].description}", code) for code in SALES_CODES]
        with Vertical(classes="modal-body"):
            yield Static("Add a VAT mapping row" if rule is None else "Edit a VAT mapping row",
                         classes="modal-title")
            yield Label("PerfectView VAT code (its description)")
            yield Input(rule.perfectview_vat if rule else "", id="vat-pv", disabled=rule is not None,
                        placeholder="BTW hoog 21%")
            yield Label("e-Boekhouden BTW-code (sales)")
            yield Select(options, id="vat-btw", allow_blank=rule is None,
                         value=rule.btw_code if rule and rule.btw_code in SALES_CODES else Select.NULL)
            yield Label("Grootboekrekening (revenue)")
            yield Input(rule.ledger if rule else "", id="vat-ledger", placeholder="8000")
            yield Static("", id="vat-problems")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save (F2)", id="vat-save-button", variant="primary")
                yield Button("Cancel", id="vat-cancel-button")

    def on_mount(self) -> None:
        self.query_one("#vat-btw" if self.rule else "#vat-pv").focus()

    @on(Input.Submitted, "#vat-ledger")
    @on(Button.Pressed, "#vat-save-button")
    def action_save(self) -> None:
        selected = self.query_one("#vat-btw", Select).value
        btw_code = selected if isinstance(selected, str) else ""
        pv = self.query_one("#vat-pv", Input).value.strip()
        ledger = self.query_one("#vat-ledger", Input).value.strip()
        problems = check_vat_rule(self.config_path, pv, btw_code, ledger)
        if problems:
            self.query_one("#vat-problems", Static).update(Text("Not saved:\n" + "\n".join(problems)))
            return
        self.dismiss(VatRule(perfectview_vat=pv, btw_code=btw_code, ledger=ledger))

    @on(Button.Pressed, "#vat-cancel-button")
    def cancel(self) -> None:
        self.dismiss(None)


class VatScreen(ModeScreen):
    HELP = ("How each PerfectView VAT code of your own country is booked in e-Boekhouden: the BTW-code (sales "
            "codes only) and the revenue grootboekrekening. Enter edits a row, a adds one; saving checks the "
            "row and writes the config file with its comments kept. An invoice with an unmapped VAT code "
            "waits on the Pending screen until it is mapped.")

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="vat-edit", priority=True, tooltip="Edit the selected row"),
        Binding("a", "add", "Add", id="vat-add", tooltip="Map another PerfectView VAT code"),
        Binding("r", "reload", "Reload", id="vat-reload", show=False, tooltip="Read the config file again"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mapping = VatMapping("", [])

    def body(self) -> ComposeResult:
        yield Static(id="vat-country")
        yield DataTable(id="vat-table", cursor_type="row")
        yield Static(id="vat-problem")

    def on_mount(self) -> None:
        table = self.query_one("#vat-table", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()
        self.load()

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Add VAT mapping row", "Map another PerfectView VAT code", self.action_add),
                PaletteCommand("Reload VAT mapping", "Read the config file again", self.action_reload)]

    @work(thread=True, exclusive=True, exit_on_error=False, group="vat", description="Reading the VAT mapping")
    def load(self) -> None:
        mapping = read_vat_mapping(self.console.config_path)
        self.app.call_from_thread(self.show_mapping, mapping)

    def show_mapping(self, mapping: VatMapping) -> None:
        self.mapping = mapping
        country = mapping.country or "unknown"
        self.query_one("#vat-country", Static).update(
            f"Own country: {country}. {len(mapping.rules)} PerfectView VAT code(s) mapped.")
        table = self.query_one("#vat-table", DataTable)
        wanted = {rule.perfectview_vat: rule for rule in mapping.rules}
        for key in [key.value for key in table.rows if key.value not in wanted]:
            table.remove_row(key)
        for name, rule in wanted.items():
            code = BTW_CODES.get(rule.btw_code)
            cells = {"pv": name, "btw": rule.btw_code, "what": code.description if code else "unknown code",
                     "ledger": rule.ledger, "check": rule_check(rule)}
            if name in table.rows:
                for column, value in cells.items():
                    table.update_cell(name, column, value)
            else:
                table.add_row(*(cells[key] for key, _, _ in COLUMNS), key=name)
        problem = mapping.problem
        if not self.console.config_path.exists():
            problem = "There is no config file yet: open Setup (ctrl+p, Open setup) first."
        self.query_one("#vat-problem", Static).update(Text(problem))

    def action_reload(self) -> None:
        self.load()

    def _selected(self) -> VatRule | None:
        table = self.query_one("#vat-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((rule for rule in self.mapping.rules if rule.perfectview_vat == key), None)

    def action_edit(self) -> None:
        rule = self._selected()
        if rule is None:
            self.action_add()
            return
        self._open_editor(rule)

    def action_add(self) -> None:
        self._open_editor(None)

    def _open_editor(self, rule: VatRule | None) -> None:
        if not self.console.config_path.exists() or not self.mapping.country:
            self.notify("There is no readable config file to save the mapping in; open Setup first.",
                        severity="warning")
            return
        self.app.push_screen(VatRuleEditor(self.console.config_path, rule), self._edited)

    def _edited(self, rule: VatRule | None) -> None:
        if rule is not None:
            self.save(self.mapping.country, rule)

    @work(thread=True, exit_on_error=False, group="vat-save", description="Saving the VAT mapping")
    def save(self, country: str, rule: VatRule) -> None:
        from core.config import ConfigError, set_vat_rule

        try:
            set_vat_rule(self.console.config_path, country, rule.perfectview_vat, rule.btw_code, rule.ledger)
        except ConfigError as error:
            lines = "; ".join(f"{p.key}: {p.message}" for p in error.problems)
            self.app.call_from_thread(self.notify, f"Not saved: {lines}", title="VAT mapping", severity="error")
            return
        store = self.console.store
        if store is not None and self.console.can_request_sync():
            store.add_request("reload_config")
        self.post_message(VatRuleSaved(country, rule.perfectview_vat))

    def on_vat_rule_saved(self, message: VatRuleSaved) -> None:
        self.notify(f"{message.perfectview_vat} ({message.country}) saved; the engine reloads its config.",
                    title="VAT mapping")
        self.load()
