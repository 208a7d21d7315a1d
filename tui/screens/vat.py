"""VAT mapping (key 3): per PerfectView VAT code of the own country, the BTW-code and grootboekrekening.

The rows are PerfectView's own VAT codes, and the ledgers offered are e-Boekhouden's,
both as the engine last read them (`core.sync.catalog_snapshot`): the console may have no
secrets (they can live only in the daemon's environment), so it shows that snapshot and
its age, and reads the services itself (F5) only when it has the credentials. The mapping
lives in the config file: an edited row is checked with the config loader's own parsers
and against the snapshot (sales code, ledger exists, percentage fits), then saved through
`set_vat_rule`, which keeps the file's comments; the engine is asked to reload its config,
and invoices waiting on that code are planned again in its next run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from core.model import BTW_CODES, VatRule, VatSide
from core.sync.catalog_snapshot import CatalogSnapshot, row_status, rule_doubts, rule_problems
from core.sync.vat_guard import judge, ledger_label, mapping_codes
from tui.commands import PaletteCommand
from tui.formatting import age_text, moment_text
from tui.messages import VatRuleSaved
from tui.screens.base import ModeScreen

SALES_CODES = mapping_codes()  # the current sales codes and GEEN (domestic 0 %, exempt)
# The meaning last: on a narrow terminal it is the column that may be cut. Fixed widths:
# rows are updated in place, and a column sized by its first values would cut later ones.
COLUMNS = (("pv", "PerfectView VAT code", 20), ("pct", "%", 3), ("btw", "BTW-code", 13), ("ledger", "Grootboek", 22),
           ("check", "Check", 16), ("wait", "Wait", 4), ("what", "Meaning", 40))


@dataclass(frozen=True)
class VatMapping:
    """What the screen shows: the own country and its rules, or why they cannot be read,
    and PerfectView's VAT codes and e-Boekhouden's ledgers as last read (None: never)."""

    country: str
    rules: list[VatRule]
    problem: str = ""
    snapshot: CatalogSnapshot | None = None
    waiting: dict[str, int] | None = None  # PerfectView VAT code -> invoices blocked on its mapping

    def rows(self) -> list[str]:
        """PerfectView's VAT codes, then mapped descriptions PerfectView does not have."""
        listed = [code.description for code in self.snapshot.vat_codes] if self.snapshot else []
        return listed + [rule.perfectview_vat for rule in self.rules if rule.perfectview_vat not in listed]

    def rule(self, perfectview_vat: str) -> VatRule | None:
        return next((rule for rule in self.rules if rule.perfectview_vat == perfectview_vat), None)


def read_vat_mapping(config_path: Path, snapshot: CatalogSnapshot | None = None) -> VatMapping:
    """The own country's rules from the config file, secrets not needed. The own country is
    PerfectView's (as the invoices job decides), else the config's `vat.own_country`."""
    from core.config import ConfigError
    from core.config.load import check_text, read_config_text

    try:
        text = read_config_text(config_path)
    except ConfigError as error:
        return VatMapping("", [], problem=error.problems[0].message if error.problems else str(error))
    config, problems = check_text(text, config_path, env={}, with_secrets=False)
    if config is None:
        return VatMapping("", [], problem=str(problems[0]), snapshot=snapshot)
    country = (snapshot.own_country if snapshot else "") or config.vat.own_country
    rules = sorted(config.vat.mappings.get(country, {}).values(), key=lambda rule: rule.perfectview_vat.lower())
    vat_problems = [p for p in problems if p.key.startswith("vat")]
    return VatMapping(country, rules, problem=str(vat_problems[0]) if vat_problems else "", snapshot=snapshot)


def check_vat_rule(config_path: Path, perfectview_vat: str, btw_code: str, ledger: str,
                   snapshot: CatalogSnapshot | None = None) -> list[str]:
    """Everything wrong with a row, in words; empty when it may be saved.

    Uses the config loader's own parsers, so what the screen accepts the file accepts;
    with a snapshot also what the services have (the VAT code, its percentage, the ledger)."""
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
    if snapshot is not None and perfectview_vat.strip():
        problems += rule_problems(snapshot, perfectview_vat.strip(), btw_code.strip().upper(), ledger.strip())
    return problems


def vat_rule_doubts(perfectview_vat: str, btw_code: str, ledger: str,
                    snapshot: CatalogSnapshot | None = None) -> list[str]:
    """What the person must confirm before the row is saved (`rule_doubts`), in words."""
    return rule_doubts(snapshot, perfectview_vat.strip(), btw_code.strip().upper(), ledger.strip())


def snapshot_text(snapshot: CatalogSnapshot | None, now: datetime) -> str:
    if snapshot is None:
        return ("PerfectView's VAT codes and e-Boekhouden's ledgers have not been read yet: the engine reads "
                "them on the invoices job's daily full pass (F5 reads them now if this console has the "
                "credentials).")
    return (f"{len(snapshot.vat_codes)} PerfectView VAT codes and {len(snapshot.ledgers)} e-Boekhouden ledgers, "
            f"read {age_text(now, snapshot.read_at)} ({moment_text(snapshot.read_at)}); F5 reads them again.")


class VatRuleEditor(ModalScreen[VatRule | None]):
    """Edit or add one row; Save checks first and stays open, naming each problem.

    `perfectview_vat` is the row's PerfectView VAT code (None: a new row, typed in);
    with a snapshot the grootboekrekening is chosen from e-Boekhouden's revenue ledgers."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="vat-cancel", tooltip="Close without saving"),
        Binding("f2", "save", "Save", id="vat-save", tooltip="Check and save this row"),
    ]

    def __init__(self, config_path: Path, perfectview_vat: str | None, rule: VatRule | None,
                 snapshot: CatalogSnapshot | None = None):
        super().__init__()
        self.config_path = config_path
        self.perfectview_vat = perfectview_vat
        self.rule = rule
        self.snapshot = snapshot
        self._confirmed: tuple[str, str, str] | None = None  # the row whose warnings were shown once

    def compose(self) -> ComposeResult:
        rule, fixed = self.rule, self.perfectview_vat is not None
        vat = self.snapshot.vat_code(self.perfectview_vat) if self.snapshot and fixed else None
        options = [(f"{code}  {BTW_CODES[code].description}", code) for code in SALES_CODES]
        with Vertical(classes="modal-body"):
            yield Static("Add a VAT mapping row" if not fixed else "Map a PerfectView VAT code",
                         classes="modal-title")
            yield Label("PerfectView VAT code (its description)" + (f": {vat.percentage}%" if vat else ""))
            yield Input(self.perfectview_vat or "", id="vat-pv", disabled=fixed, placeholder="BTW hoog 21%")
            yield Label("e-Boekhouden BTW-code (sales)")
            yield Select(options, id="vat-btw", allow_blank=rule is None,
                         value=rule.btw_code if rule and rule.btw_code in SALES_CODES else Select.NULL)
            yield Label("Grootboekrekening (revenue)")
            yield from self._ledger_field(rule.ledger if rule else "")
            yield Static("", id="vat-problems")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save (F2)", id="vat-save-button", variant="primary")
                yield Button("Cancel", id="vat-cancel-button")

    def _ledger_field(self, current: str) -> ComposeResult:
        if self.snapshot is None or not self.snapshot.ledgers:
            yield Input(current, id="vat-ledger", placeholder="8000")
            return
        ledgers = self.snapshot.revenue_ledgers() or list(self.snapshot.ledgers)
        options = [(f"{ledger.code}  {ledger.description}"
                    + ("  (not revenue?)" if judge(ledger.code, ledgers).doubt else ""), ledger.code)
                   for ledger in ledgers]
        if current and current not in [code for _, code in options]:
            options.append((f"{current}  (not a revenue ledger in e-Boekhouden)", current))
        yield Select(options, id="vat-ledger", allow_blank=not current, value=current or Select.NULL)

    def on_mount(self) -> None:
        self.query_one("#vat-btw" if self.perfectview_vat is not None else "#vat-pv").focus()

    def _ledger(self) -> str:
        field = self.query_one("#vat-ledger")
        value = field.value
        return value.strip() if isinstance(value, str) else ""

    @on(Input.Submitted, "#vat-ledger")
    @on(Button.Pressed, "#vat-save-button")
    def action_save(self) -> None:
        selected = self.query_one("#vat-btw", Select).value
        btw_code = selected if isinstance(selected, str) else ""
        pv = self.query_one("#vat-pv", Input).value.strip()
        ledger = self._ledger()
        problems = check_vat_rule(self.config_path, pv, btw_code, ledger, self.snapshot)
        if problems:
            self._confirmed = None
            self.query_one("#vat-problems", Static).update(Text("Not saved:\n" + "\n".join(problems)))
            return
        doubts = vat_rule_doubts(pv, btw_code, ledger, self.snapshot)
        # A doubtful row is saved only by asking twice for the same row: the warning is read first.
        if doubts and self._confirmed != (pv, btw_code, ledger):
            self._confirmed = (pv, btw_code, ledger)
            self.query_one("#vat-problems", Static).update(
                Text("Warning:\n" + "\n".join(doubts) + "\nPress F2 (Save) again to save it anyway."))
            return
        self.dismiss(VatRule(perfectview_vat=pv, btw_code=btw_code, ledger=ledger))

    @on(Button.Pressed, "#vat-cancel-button")
    def cancel(self) -> None:
        self.dismiss(None)


class VatScreen(ModeScreen):
    HELP = ("How each PerfectView VAT code of your own country is booked in e-Boekhouden: the BTW-code (sales "
            "codes only) and the revenue grootboekrekening. The rows are PerfectView's VAT codes as the engine "
            "last read them; F5 reads them and e-Boekhouden's ledgers now (this console needs the credentials "
            "for that). Enter maps or edits a row, a adds one; saving checks the row (sales code or GEEN for "
            "domestic 0 % and exempt sales, the ledger exists and is a profit-and-loss ledger, the percentage "
            "fits) and writes the config file with its comments kept. A ledger that looks like no revenue "
            "ledger is saved only when F2 is pressed again after the warning. Wait counts the invoices "
            "blocked on the row; they wait on the Pending screen until it is mapped.")

    BINDINGS = [
        Binding("enter", "edit", "Edit", id="vat-edit", priority=True, tooltip="Map or edit the selected row"),
        Binding("a", "add", "Add", id="vat-add", tooltip="Map another PerfectView VAT code"),
        Binding("f5", "refresh_catalog", "Read services", id="vat-refresh",
                tooltip="Read PerfectView's VAT codes and e-Boekhouden's ledgers now (needs the credentials)"),
        Binding("r", "reload", "Reload", id="vat-reload", show=False, tooltip="Read the config file again"),
    ]

    LOADS_IN_WORKER = True
    AUTO_FOCUS = "#vat-table"  # Enter typed right after 3 edits a row

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mapping = VatMapping("", [])
        self.wanted: str | None = None  # a code to open once the mapping is read (from a blocked invoice)
        self.opened_for_fix = False

    def open_code(self, perfectview_vat: str) -> None:
        """Select the row of a PerfectView VAT code and open its editor; after saving, the
        console offers to sync now."""
        self.wanted = perfectview_vat
        self.load()

    def body(self) -> ComposeResult:
        yield Static(id="vat-country")
        yield DataTable(id="vat-table", cursor_type="row")
        yield Static(id="vat-snapshot")
        yield Static(id="vat-problem")

    def on_mount(self) -> None:
        table = self.query_one("#vat-table", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.focus_now(table)  # at once, as on the Pending screen
        self.load()

    def palette_commands(self) -> list[PaletteCommand]:
        return [PaletteCommand("Add VAT mapping row", "Map another PerfectView VAT code", self.action_add),
                PaletteCommand("Reload VAT mapping", "Read the config file again", self.action_reload),
                PaletteCommand("Read VAT codes and ledgers from the services",
                               "PerfectView's VAT codes and e-Boekhouden's ledgers, now", self.action_refresh_catalog)]

    def _snapshot(self) -> CatalogSnapshot | None:
        from core.store import Store, StoreError
        from core.sync.catalog_snapshot import load_snapshot

        if self.console.store is not None:
            return load_snapshot(self.console.store)
        try:  # the console's own connection is not open yet
            with Store.open(self.console.state_dir, create=False) as store:
                return load_snapshot(store)
        except StoreError:
            return None

    def _waiting(self) -> dict[str, int]:
        from core.store import Store, StoreError
        from core.sync.invoice_commands import waiting_by_vat_code

        if self.console.store is not None:
            return waiting_by_vat_code(self.console.store)
        try:
            with Store.open(self.console.state_dir, create=False) as store:
                return waiting_by_vat_code(store)
        except StoreError:
            return {}

    @work(thread=True, exclusive=True, exit_on_error=False, group="vat", description="Reading the VAT mapping")
    def load(self) -> None:
        mapping = read_vat_mapping(self.console.config_path, self._snapshot())
        mapping = replace(mapping, waiting=self._waiting())
        self.app.call_from_thread(self.show_mapping, mapping)

    def show_mapping(self, mapping: VatMapping) -> None:
        self.mapping = mapping
        snapshot = mapping.snapshot
        names = mapping.rows()
        mapped = sum(1 for name in names if mapping.rule(name) is not None)
        self.query_one("#vat-country", Static).update(
            f"Own country: {mapping.country or 'unknown'}. {mapped} of {len(names)} PerfectView VAT code(s) mapped.")
        table = self.query_one("#vat-table", DataTable)
        for key in [key.value for key in table.rows if key.value not in names]:
            table.remove_row(key)
        for name in names:
            rule = mapping.rule(name)
            vat = snapshot.vat_code(name) if snapshot else None
            code = BTW_CODES.get(rule.btw_code) if rule else None
            cells = {"pv": name, "pct": str(vat.percentage) if vat else "?",
                     "btw": rule.btw_code if rule else "-",
                     "ledger": ledger_label(rule.ledger, snapshot.ledgers if snapshot else None) if rule else "-",
                     "check": row_status(snapshot, rule, vat), "wait": str((mapping.waiting or {}).get(name, 0)),
                     "what": code.description if code else ("unknown code" if rule else "Enter maps it")}
            if name in table.rows:
                for column, value in cells.items():
                    table.update_cell(name, column, value)
            else:
                table.add_row(*(cells[key] for key, _, _ in COLUMNS), key=name)
        self.query_one("#vat-snapshot", Static).update(Text(snapshot_text(snapshot, self.console.clock())))
        problem = mapping.problem
        if not self.console.config_path.exists():
            problem = "There is no config file yet: open Setup (ctrl+p, Open setup) first."
        self.query_one("#vat-problem", Static).update(Text(problem))
        self.mark_loaded()
        if self.wanted is not None:
            wanted, self.wanted = self.wanted, None
            if wanted in table.rows:
                table.move_cursor(row=table.get_row_index(wanted))
            self.opened_for_fix = True
            self._open_editor(wanted)

    def action_reload(self) -> None:
        self.load()

    def _selected(self) -> str | None:
        table = self.query_one("#vat-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_edit(self) -> None:
        name = self._selected()
        if name is None:
            self.action_add()
            return
        self._open_editor(name)

    def action_add(self) -> None:
        self._open_editor(None)

    def _open_editor(self, perfectview_vat: str | None) -> None:
        if not self.console.config_path.exists() or not self.mapping.country:
            self.notify("There is no readable config file to save the mapping in; open Setup first.",
                        severity="warning")
            return
        rule = self.mapping.rule(perfectview_vat) if perfectview_vat is not None else None
        editor = VatRuleEditor(self.console.config_path, perfectview_vat, rule, self.mapping.snapshot)
        self.app.push_screen(editor, self._edited)

    def _edited(self, rule: VatRule | None) -> None:
        if rule is not None:
            self.save(self.mapping.country, rule)
        else:
            self.opened_for_fix = False

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
        if self.opened_for_fix:
            self.opened_for_fix = False
            self.console.offer_sync(f"{message.perfectview_vat} is mapped.")

    def action_refresh_catalog(self) -> None:
        self.refresh_catalog()

    @work(thread=True, exclusive=True, exit_on_error=False, group="vat-refresh",
          description="Reading the VAT codes and ledgers")
    def refresh_catalog(self) -> None:
        """PerfectView's VAT codes and e-Boekhouden's ledgers, read now with this console's
        credentials; the calls are counted in the state folder like the engine's."""
        from core.config import ConfigError, load_config
        from core.engine.services import RunServices
        from core.secrets import scrub
        from core.soap.errors import ServiceError
        from core.sync.catalog_snapshot import read_catalog, save_snapshot

        store = self.console.store
        try:
            config = load_config(self.console.config_path)
        except ConfigError as error:
            first = error.problems[0] if error.problems else error
            self.app.call_from_thread(
                self.notify, f"This console cannot read the services ({first}). The engine reads the lists on the "
                             "invoices job's daily full pass.", title="VAT codes and ledgers", severity="warning",
                timeout=15)
            return
        if store is None:
            self.app.call_from_thread(self.notify, "The state folder is not open yet; press F5 again in a moment.",
                                      title="VAT codes and ledgers", severity="warning")
            return
        services = RunServices(config, store)
        try:
            snapshot = read_catalog(services.perfectview(), services.eboekhouden(), self.console.clock())
        except ServiceError as error:
            self.app.call_from_thread(self.notify, scrub(f"Not read: {error}"), title="VAT codes and ledgers",
                                      severity="error", timeout=15)
            return
        finally:
            services.close()
        save_snapshot(store, snapshot)
        self.app.call_from_thread(self.notify, f"Read {len(snapshot.vat_codes)} VAT codes and "
                                               f"{len(snapshot.ledgers)} ledgers.", title="VAT codes and ledgers")
        self.app.call_from_thread(self.load)
