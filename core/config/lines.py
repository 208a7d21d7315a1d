"""Which line of a TOML file each key is on.

tomllib gives values without positions and tomlkit keeps no line numbers, so this small
scanner walks text that tomllib has already accepted and notes the line where every
table header and key appears (keys inside one-line inline tables included). It only has
to find keys, not to understand values: strings, arrays and inline tables are skipped
with just enough care that a `#`, `=` or bracket inside them is not mistaken for syntax.
"""

from __future__ import annotations

import bisect
import tomllib

KeyPath = tuple[str, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def key_lines(text: str) -> dict[KeyPath, int]:
    """{("section", "key"): line} for every key and table header, 1-based, first occurrence."""
    return _Scanner(text).scan()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest enclosing table when the key itself is absent."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.found: dict[KeyPath, int] = {}
        self._line_starts = [0] + [n + 1 for n, char in enumerate(text) if char == "\n"]

    def scan(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self.i >= len(self.text):
                return self.found
            if self._peek() == "[":
                table = self._header()
            else:
                key = self._key()
                self._note(table + key)
                self._skip_blank()
                self.i += 1  # "="
                self._value(table + key)
            self._skip_to_line_end()

    # --------------------------------------------------------------- pieces

    def _line(self) -> int:
        return bisect.bisect_right(self._line_starts, self.i)

    def _peek(self, ahead: int = 0) -> str:
        index = self.i + ahead
        return self.text[index] if index < len(self.text) else ""

    def _note(self, path: KeyPath) -> None:
        line = self._line()
        for end in range(1, len(path) + 1):
            self.found.setdefault(path[:end], line)

    def _skip_blank(self, *, newlines: bool = False) -> None:
        while self.i < len(self.text):
            char = self.text[self.i]
            if char in " \t\r" or newlines and char == "\n":
                self.i += 1
            elif char == "#" and newlines:
                self._skip_to_line_end()
            else:
                return

    def _skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def _header(self) -> KeyPath:
        self.i += 2 if self._peek(1) == "[" else 1
        self._skip_blank()
        path = self._key()
        self._note(path)
        self._skip_blank()
        self.i += 2 if self._peek(1) == "]" else 1
        return path

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._skip_blank()
            parts.append(self._simple_key())
            self._skip_blank()
            if self._peek() != ".":
                return tuple(parts)
            self.i += 1

    def _simple_key(self) -> str:
        if self._peek() in ('"', "'"):
            start = self.i
            self._string()
            # tomllib already accepted this file, so it can decode the quoted key for us.
            return next(iter(tomllib.loads(self.text[start:self.i] + " = 0")))
        start = self.i
        while self._peek() in _BARE and self._peek():
            self.i += 1
        return self.text[start:self.i]

    def _string(self) -> None:
        quote = self._peek()
        if self.text.startswith(quote * 3, self.i):
            end = self.text.find(quote * 3, self.i + 3)
            while quote == '"' and end > 0 and _escaped(self.text, end):
                end = self.text.find(quote * 3, end + 1)
            # A closing run may be up to five quotes long: the extra ones belong to the string.
            end += 3
            while self._peek(end - self.i) == quote:
                end += 1
            self.i = end
            return
        index = self.i + 1
        while self.text[index] != quote:
            index += 2 if quote == '"' and self.text[index] == "\\" else 1
        self.i = index + 1

    def _value(self, path: KeyPath | None) -> None:
        self._skip_blank()
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == "{":
            self._inline_table(path)
        elif char == "[":
            self._array()
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self.i += 1

    def _inline_table(self, path: KeyPath | None) -> None:
        self.i += 1
        while True:
            self._skip_blank()
            if self._peek() in ("}", ""):
                self.i += 1
                return
            if self._peek() == ",":
                self.i += 1
                continue
            key = self._key()
            if path is not None:
                self._note(path + key)
            self._skip_blank()
            self.i += 1  # "="
            self._value(None if path is None else path + key)

    def _array(self) -> None:
        # Items of arrays have no dotted key of their own; their keys are not noted.
        self.i += 1
        while True:
            self._skip_blank(newlines=True)
            if self._peek() in ("]", ""):
                self.i += 1
                return
            if self._peek() == ",":
                self.i += 1
                continue
            self._value(None)


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - 1 - backslashes >= 0 and text[index - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1
