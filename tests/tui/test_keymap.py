"""User keymaps: `[console.keys]` rebinds the console's keys by binding id (Textual's set_keymap);
a wrong entry is told and leaves that binding on its own key."""

from __future__ import annotations

from textual.binding import Binding

from core.config.console_keys import APP, BINDINGS, MODE_SCREENS
from tests.tui.conftest import settle
from tui.app import PvsyncApp, create_app
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import CLOSE_BINDINGS, HelpScreen
from tui.screens.logbook import ExportScreen
from tui.screens.vat import VatRuleEditor
from tui.screens.approvals import ApprovalsScreen
from tui.widgets.logbook_view import LogbookView


def console_bindings() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every binding the console defines: id -> (scope, keys)."""
    def own(cls) -> list:  # Textual's own (tab on every screen) are not the console's
        return cls.__dict__.get("BINDINGS", [])

    owners = [(APP, own(PvsyncApp)), ("logbook", own(LogbookView)), ("export", own(ExportScreen)),
              ("vat-editor", own(VatRuleEditor)), ("close", own(HelpScreen)), ("close", CLOSE_BINDINGS),
              ("confirm", own(ConfirmScreen)), ("approvals", own(ApprovalsScreen))]
    owners += [(mode, own(PvsyncApp.MODES[mode])) for mode in MODE_SCREENS]
    found = {}
    for scope, bindings in owners:
        for binding in bindings:
            assert isinstance(binding, Binding) and binding.id, f"a binding of {scope} has no id"
            found[binding.id] = (scope, tuple(key.strip() for key in binding.key.split(",")))
    return found


def test_the_config_loader_knows_every_binding_of_the_console_by_id_screen_and_key():
    """Add a new binding to core/config/console_keys.py too, or users cannot rebind it."""
    assert console_bindings() == {binding_id: (b.scope, b.keys) for binding_id, b in BINDINGS.items()}


def keys_config(config_path, lines: str):
    text = config_path.read_text()
    assert "[console.keys]" in text
    config_path.write_text(text.replace("[console.keys]", "[console.keys]\n" + lines, 1))
    return config_path


async def test_a_rebound_key_works_and_the_old_one_no_longer_does(config_path, state_dir):
    keys_config(config_path, '"mode-vat" = "f7"\n"sync-now" = "f9"')
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert app.current_mode == "status"
        await pilot.press("f7")
        await settle(app, pilot)
        assert app.current_mode == "vat"
        await pilot.press("s")
        await settle(app, pilot)
        assert not app._notifications, "s is not the sync key any more"
        await pilot.press("f9")
        await settle(app, pilot)
        assert [n.title for n in app._notifications] == ["Sync not possible"]  # no engine here: it says so
        assert "f9" in [key for key, active in app.screen.active_bindings.items() if active.binding.id == "sync-now"]


async def test_a_wrong_entry_is_told_and_that_binding_keeps_its_own_key(config_path, state_dir):
    keys_config(config_path, '"mode-vat" = "f55"\n"mode-pending" = "f8"')
    app = create_app(config_path, state_dir, engine_mode="attach")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        (notice,) = [n for n in app._notifications if n.title == "Console keys"]
        assert "console.keys.mode-vat" in notice.message and '"f55" is not a key name' in notice.message
        assert "own key is used meanwhile" in notice.message
        await pilot.press("3")
        await settle(app, pilot)
        assert app.current_mode == "vat"
        await pilot.press("f8")  # the right entry next to it is used
        await settle(app, pilot)
        assert app.current_mode == "pending"
