"""Colour that repeats a state word: red for what failed or blocks, yellow for what waits, green for OK.

The word is always there, so the console reads the same with NO_COLOR (Textual then drops
the colour and keeps the bold) and to a screen reader; colour only lets the eye find it.
"""

from __future__ import annotations

from rich.text import Text

RED, YELLOW, GREEN = "bold red", "yellow", "green"

# The first word of a state decides its colour (so "OVERDUE", "FAILING (14:02) in run 3" work too).
COLOURS = {
    "BLOCKED": RED, "FAILED": RED, "FAILING": RED, "NOT": RED, "NO": RED, "ERROR": RED, "DOC": RED,
    "INTERRUPTED": RED,
    "UNKNOWN": YELLOW, "CHOOSE": YELLOW, "PICK": YELLOW, "OVERDUE": YELLOW, "PARTIAL": YELLOW, "WARNING": YELLOW,
    "RATE": YELLOW, "OLD": YELLOW, "RUNNING": YELLOW, "UNPAID": YELLOW, "PART": YELLOW,
    "OK": GREEN, "BOOKED": GREEN, "PAID": GREEN,
}


def colour_of(word: str) -> str:
    first = word.split(" ", 1)[0].strip("():,")
    return COLOURS.get(first.upper(), "")


def coloured(word: str, style: str | None = None) -> Text:
    """`word` as Text in its colour (or in `style` when given)."""
    return Text(word, style=colour_of(word) if style is None else style)
