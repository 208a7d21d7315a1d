"""A window onto the logbook that never holds more than a few pages of it.

The logbook may hold millions of entries; this widget keeps at most `WINDOW` of them,
ordered by id, renders only the lines on screen (Textual's line API), and asks for the
next page by id when the cursor or the scroll nears an edge (`NeedOlder`/`NeedNewer`).
Paging by id from an index is as fast at entry 1,000,000 as at entry 1. At the bottom it
follows: live entries are appended and the cursor stays on the newest.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.store import LogEntry
from tui.formatting import clock_time

PAGE = 200
WINDOW = 3 * PAGE
MARGIN = 20  # ask for the next page this many lines before the edge

LEVEL_STYLES = {"DEBUG": Style(dim=True), "INFO": Style(), "WARNING": Style(color="yellow", bold=True),
                "ERROR": Style(color="red", bold=True)}


def entry_line(entry: LogEntry) -> Text:
    """One entry on one line: time, level in words, kind, subject and message."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{clock_time(entry.at)} ")
    text.append(f"{entry.level:<7} ", LEVEL_STYLES.get(entry.level, Style()))
    text.append(f"{entry.kind:<8} ", Style(bold=True))
    if entry.subject:
        text.append(f"{entry.subject}: ")
    text.append(entry.message.replace("\n", " "))
    return text


class LogbookView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogbookView { height: 1fr; overflow-x: hidden; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="log-up", tooltip="Previous entry"),
        Binding("down", "cursor(1)", "Down", show=False, id="log-down", tooltip="Next entry"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="log-page-up", tooltip="A page back"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="log-page-down", tooltip="A page on"),
        Binding("home", "oldest", "Oldest", show=False, id="log-oldest", tooltip="The oldest entry"),
        Binding("end", "newest", "Newest", show=False, id="log-newest",
                tooltip="The newest entry; follows from there"),
        Binding("enter", "choose", "Details", id="log-details", tooltip="All fields of this entry"),
    ]

    @dataclass
    class NeedOlder(Message):
        before_id: int

    @dataclass
    class NeedNewer(Message):
        after_id: int

    @dataclass
    class NeedEnd(Message):
        """Jump to the oldest (`newest=False`) or newest end of the (filtered) logbook."""

        newest: bool

    @dataclass
    class Chosen(Message):
        entry: LogEntry

    @dataclass
    class Moved(Message):
        """The cursor moved: the screen says whether the view still follows."""

        following: bool

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.entries: list[LogEntry] = []
        self.cursor = 0
        self.has_older = False
        self.has_newer = False
        self.waiting_older = False
        self.waiting_newer = False

    # ------------------------------------------------------------------ state

    @property
    def following(self) -> bool:
        """At the newest entry, with nothing newer unloaded: new entries scroll into view."""
        return not self.has_newer and (not self.entries or self.cursor >= len(self.entries) - 1)

    @property
    def current(self) -> LogEntry | None:
        return self.entries[self.cursor] if self.entries else None

    def replace(self, entries: list[LogEntry], *, has_older: bool, has_newer: bool, at_end: bool = True) -> None:
        """A fresh window (after a filter change or a jump to an end); ascending by id."""
        self.entries = list(entries[-WINDOW:])
        self.has_older, self.has_newer = has_older or len(entries) > WINDOW, has_newer
        self.waiting_older = self.waiting_newer = False
        self.cursor = len(self.entries) - 1 if at_end else 0
        self._resize()
        self.scroll_to(y=self.cursor if not at_end else self.max_scroll_y, animate=False, immediate=True)
        if at_end:
            self.scroll_end(animate=False, immediate=True)
            # Read before the first layout, the view has no height yet and scroll_end stops at
            # the top: the logbook opened at its oldest line. Once laid out, go to the end again.
            self.call_after_refresh(self._keep_end)
        self.refresh()
        self.post_message(self.Moved(self.following))

    def _keep_end(self) -> None:
        if self.following:
            self._resize()
            self.scroll_end(animate=False, immediate=True, force=True)

    def on_resize(self) -> None:
        self._keep_end()

    def add_older(self, entries: list[LogEntry], *, more: bool) -> None:
        """Entries before the window (ascending), after a NeedOlder."""
        self.waiting_older = False
        self.has_older = more
        if not entries:
            return
        self.entries[:0] = entries
        self.cursor += len(entries)
        y = self.scroll_y + len(entries)
        if len(self.entries) > WINDOW:
            del self.entries[WINDOW:]
            self.has_newer = True
            self.cursor = min(self.cursor, len(self.entries) - 1)
        self._resize()
        self.scroll_to(y=y, animate=False, immediate=True, force=True)
        self.refresh()

    def add_newer(self, entries: list[LogEntry], *, more: bool) -> None:
        """Entries after the window (ascending): a page after NeedNewer, or live ones while following."""
        follow = self.following
        self.waiting_newer = False
        self.has_newer = more
        if not entries:
            return
        self.entries.extend(entries)
        drop = max(0, len(self.entries) - WINDOW)
        y = self.scroll_y
        if drop:
            del self.entries[:drop]
            self.has_older = True
            self.cursor = max(0, self.cursor - drop)
            y = max(0, y - drop)
        if follow and not more:
            self.cursor = len(self.entries) - 1
        self._resize()
        if follow and not more:
            self.scroll_end(animate=False, immediate=True, force=True)
        else:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.entries))

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.size.width
        if index >= len(self.entries):
            return Strip.blank(width, self.rich_style)
        entry = self.entries[index]
        chosen = index == self.cursor
        # A marker as well as reverse video: the cursor must show without colour too.
        text = Text("> " if chosen else "  ", no_wrap=True, overflow="ellipsis")
        text.append_text(entry_line(entry))
        text.truncate(width, overflow="ellipsis")
        strip = Strip(list(text.render(self.app.console))).adjust_cell_length(width, self.rich_style)
        strip = strip.apply_style(self.rich_style)
        return strip.apply_style(Style(reverse=True)) if chosen else strip

    # ------------------------------------------------------------------ moving

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_oldest(self) -> None:
        self.post_message(self.NeedEnd(newest=False))

    def action_newest(self) -> None:
        if self.has_newer:
            self.post_message(self.NeedEnd(newest=True))
        else:
            self._move_to(len(self.entries) - 1)

    def action_choose(self) -> None:
        if self.current is not None:
            self.post_message(self.Chosen(self.current))

    def _move_to(self, index: int) -> None:
        if not self.entries:
            return
        self.cursor = max(0, min(index, len(self.entries) - 1))
        top, height = round(self.scroll_y), max(1, self.size.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()
        self._ask_for_more()
        self.post_message(self.Moved(self.following))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._ask_for_more()

    def _ask_for_more(self) -> None:
        if not self.entries:
            return
        top = round(self.scroll_y)
        near_top = min(self.cursor, top) < MARGIN
        near_bottom = max(self.cursor, top + self.size.height) >= len(self.entries) - MARGIN
        if near_top and self.has_older and not self.waiting_older:
            self.waiting_older = True
            self.post_message(self.NeedOlder(self.entries[0].id))
        if near_bottom and self.has_newer and not self.waiting_newer:
            self.waiting_newer = True
            self.post_message(self.NeedNewer(self.entries[-1].id))
