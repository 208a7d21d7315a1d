"""The console's keys, and the user's own keymap from `[console.keys]`.

The console (tui/) gives every key binding an id; a user may bind another key to an id
with `"sync-now" = "f9"` in the config. The config loader checks that table without
importing the console (core never imports Textual), so the ids, the screen each one
acts on and its default keys are listed here; a console test checks that this list and
the console's own bindings agree, so a binding added there without an entry here fails
a test instead of becoming a key nobody can change.

Key names follow Textual's: a character ("a", "?"), a name ("f5", "enter", "pageup",
"question_mark"), with modifiers ("ctrl+r", "shift+f2"); several keys separated by commas.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config.problems import Invalid
from core.config.values import closest, kind_of

APP = "app"  # active on every screen
# Screens chosen with the number keys and the palette; their keys are active together with the app's.
MODE_SCREENS = ("status", "logbook", "vat", "pending", "setup")


@dataclass(frozen=True)
class ConsoleBinding:
    id: str
    scope: str  # APP, a mode screen, or a modal dialog ("vat-editor", "export", "close")
    keys: tuple[str, ...]  # default keys, in Textual's long form
    does: str


def _b(binding_id: str, scope: str, keys: str, does: str) -> ConsoleBinding:
    return ConsoleBinding(binding_id, scope, tuple(keys.split(",")), does)


BINDINGS: dict[str, ConsoleBinding] = {b.id: b for b in [
    _b("mode-status", APP, "1", "show the Status screen"),
    _b("mode-logbook", APP, "2", "show the Logbook"),
    _b("mode-vat", APP, "3", "show the VAT mapping"),
    _b("mode-pending", APP, "4", "show the Pending invoices"),
    _b("sync-now", APP, "s", "sync now"),
    _b("approvals", APP, "w", "show what waits for you: the plan to approve, proposed twins"),
    _b("help", APP, "question_mark", "help"),
    _b("help-f1", APP, "f1", "help"),
    _b("quit", APP, "q", "quit the console"),
    _b("log-search", "logbook", "slash", "filter the logbook by text"),
    _b("log-level", "logbook", "l", "cycle the logbook's level"),
    _b("log-kind", "logbook", "k", "cycle the logbook's kind"),
    _b("log-run", "logbook", "r", "show the selected entry's run"),
    _b("log-export", "logbook", "e", "export the logbook to CSV"),
    _b("log-follow", "logbook", "f", "follow the newest entries"),
    _b("log-clear", "logbook", "c", "clear the logbook's filters"),
    _b("log-up", "logbook", "up", "previous logbook entry"),
    _b("log-down", "logbook", "down", "next logbook entry"),
    _b("log-page-up", "logbook", "pageup", "a page back in the logbook"),
    _b("log-page-down", "logbook", "pagedown", "a page on in the logbook"),
    _b("log-oldest", "logbook", "home", "the oldest logbook entry"),
    _b("log-newest", "logbook", "end", "the newest logbook entry"),
    _b("log-details", "logbook", "enter", "details of a logbook entry"),
    _b("export-cancel", "export", "escape", "cancel the CSV export"),
    _b("vat-edit", "vat", "enter", "edit a VAT mapping row"),
    _b("vat-add", "vat", "a", "add a VAT mapping row"),
    _b("vat-reload", "vat", "r", "read the VAT mapping again"),
    _b("vat-refresh", "vat", "f5", "read the VAT codes and ledgers from the services"),
    _b("vat-cancel", "vat-editor", "escape", "close the VAT row editor"),
    _b("vat-save", "vat-editor", "f2", "save the VAT row"),
    _b("pending-retry", "pending", "r", "retry an invoice now"),
    _b("pending-details", "pending", "enter", "details of an invoice"),
    _b("pending-filter", "pending", "slash", "filter the pending invoices"),
    _b("pending-sort", "pending", "o", "sort the pending invoices"),
    _b("pending-document", "pending", "d", "choose an invoice's document"),
    _b("pending-open-items", "pending", "p", "show the open items"),
    _b("pending-fix", "pending", "f", "go to the fix of an invoice"),
    _b("status-open", "status", "enter", "open the fix of an item, or a job's last run"),
    _b("confirm-yes", "confirm", "y,enter", "answer yes in a question"),
    _b("confirm-no", "confirm", "n,escape", "answer no in a question"),
    _b("setup-save", "setup", "f2", "save the setup"),
    _b("setup-test-eb", "setup", "f3", "test the e-Boekhouden connection"),
    _b("setup-test-pv", "setup", "f4", "test the PerfectView connection"),
    _b("setup-check-databases", "setup", "f5", "check what pvsync assumes about both databases"),
    _b("setup-use-choices", "setup", "f6", "write the chosen names to the config and check again"),
    _b("approvals-approve", "approvals", "a", "approve the plan that waits"),
    _b("approvals-link", "approvals", "l", "link a customer to its proposed PerfectView twin"),
    _b("approvals-new", "approvals", "n", "import a proposed twin as a new relation"),
    _b("approvals-close", "approvals", "escape,x", "close Approvals"),
    _b("close", "close", "escape,q,enter", "close help or details"),
    _b("close-help", "close", "question_mark,f1", "close help"),
    _b("dialog-help", "close", "question_mark,f1", "the keys of a dialog"),
]}

# Textual's own keys on every screen: the command palette, quitting, copying, moving the focus.
RESERVED = {"ctrl+p": "the command palette", "ctrl+q": "quitting", "ctrl+c": "copying",
            "tab": "moving the focus", "shift+tab": "moving the focus"}
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
# Textual's names where the Unicode name of a character is not what it calls the key.
_RENAMED = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
            "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}


def _character_key(character: str) -> str:
    """Textual's name of a one-character key: letters and digits as they are, "?" -> question_mark."""
    if character.isalnum():
        return character
    name = unicodedata.name(character, character).lower().replace("-", "_").replace(" ", "_")
    return _RENAMED.get(name, name)


NAMED_KEYS = frozenset(
    ["escape", "enter", "space", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
     "up", "down", "left", "right", "tab"]
    + [f"f{number}" for number in range(1, 25)]
    + [_character_key(c) for c in string.punctuation])


def normalize_key(text: str) -> str:
    """One key in Textual's long form ("ctrl+?" -> "ctrl+question_mark"); Invalid when it names no key."""
    *modifiers, base = text.strip().split("+") if text.strip() != "+" else ["+"]
    for modifier in modifiers:
        if modifier.lower() not in MODIFIERS:
            raise Invalid(f'"{text.strip()}" has "{modifier}", which is not a modifier',
                          f"use {', '.join(MODIFIERS[:3])} before a +, for example ctrl+r")
    if len(base) == 1 and base.isprintable() and not base.isspace():
        name = _character_key(base)
    elif base.lower() in NAMED_KEYS:
        name = base.lower()
    else:
        near = closest(base.lower(), sorted(NAMED_KEYS))
        hint = f'did you mean "{near}"? ' if near else ""
        raise Invalid(f'"{text.strip()[:30]}" is not a key name',
                      f"{hint}use a character (a, ?), a name (f5, enter, pageup) or a modifier (ctrl+r)")
    return "+".join([*(m.lower() for m in modifiers), name])


def parse_keys(value: Any) -> tuple[str, ...]:
    """The keys of one `[console.keys]` entry, normalized; Invalid when it is not usable."""
    if not isinstance(value, str):
        raise Invalid(f"is {kind_of(value)}, expected the key in quotes", 'write it like "f5" or "ctrl+r,f5"')
    parts = [part for part in value.split(",")]
    if not value.strip() or any(not part.strip() for part in parts):
        raise Invalid("has an empty key", 'give one key, or several separated by commas: "ctrl+r,f5"')
    keys = tuple(dict.fromkeys(normalize_key(part) for part in parts))
    for key in keys:
        if key in RESERVED:
            raise Invalid(f"{key} is the console's key for {RESERVED[key]}", "choose another key")
    return keys


def unknown_id_fix(binding_id: str) -> str:
    near = closest(binding_id, sorted(BINDINGS))
    if near:
        return f"did you mean {near} ({BINDINGS[near].does})? Correct the name"
    return f"use one of the console's binding ids: {', '.join(BINDINGS)}"


def _active_together(first: str, second: str) -> bool:
    """Two scopes whose keys are live at once: the same scope, or the app's and a screen's."""
    return first == second or APP in (first, second) and (first in MODE_SCREENS or second in MODE_SCREENS)


def where_both_work(first: str, second: str) -> str:
    scopes = {BINDINGS[first].scope, BINDINGS[second].scope} - {APP}
    if not scopes:
        return "on every screen"
    scope = scopes.pop()
    return f"on the {scope} screen" if scope in MODE_SCREENS else f"in the {scope} dialog"


def clashes(keymap: Mapping[str, tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """(id, key, other id) for every key the keymap gives to `id` that `other id` also has
    where both are active; defaults that share a key on purpose (q on Help) are not clashes."""
    effective = {binding_id: keymap.get(binding_id, binding.keys) for binding_id, binding in BINDINGS.items()}
    found, seen = [], set()
    for binding_id, keys in keymap.items():
        scope = BINDINGS[binding_id].scope
        for other, other_keys in effective.items():
            pair = frozenset((binding_id, other))
            if other == binding_id or pair in seen or not _active_together(scope, BINDINGS[other].scope):
                continue
            same = [key for key in keys if key in other_keys]
            if same:
                seen.add(pair)
                found.append((binding_id, same[0], other))
    return found
