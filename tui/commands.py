"""The command palette (ctrl+p): the console's commands, and those that fit the current screen.

Screens offer theirs through `palette_commands()`, so "Export logbook to CSV" appears
where there is a logbook and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import PvsyncApp


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]


def app_commands(app: PvsyncApp) -> list[PaletteCommand]:
    return [
        PaletteCommand("Sync now", "Run all jobs now (writes a sync request the engine carries out)",
                       app.action_sync_now),
        PaletteCommand("Open setup", "Credentials of both services, connection tests and sync options",
                       lambda: app.switch_mode("setup")),
        PaletteCommand("Status", "Engine, jobs, the run in progress, call budgets",
                       lambda: app.switch_mode("status")),
        PaletteCommand("Logbook", "Every event, live, with filters", lambda: app.switch_mode("logbook")),
        PaletteCommand("VAT mapping", "PerfectView VAT codes to BTW-codes and grootboekrekeningen",
                       lambda: app.switch_mode("vat")),
        PaletteCommand("Pending invoices", "Invoices not yet booked or paid, and why",
                       lambda: app.switch_mode("pending")),
        PaletteCommand("Approvals", "The plan that waits for your approval, and proposed twins (key w)",
                       app.action_approvals),
        PaletteCommand("Help", "The keys of this screen", app.action_help),
    ]


class PvsyncCommands(Provider):
    def _commands(self) -> list[PaletteCommand]:
        app: PvsyncApp = self.app  # type: ignore[assignment]
        offered = getattr(self.screen, "palette_commands", None)
        return [*(offered() if offered else []), *app_commands(app)]

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
