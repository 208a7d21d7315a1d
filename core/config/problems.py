"""What a config problem looks like to the person who has to fix it.

Loading never stops at the first mistake: every problem is collected and raised together,
so one edit fixes them all. Each carries the file, the dotted key and the line, what is
wrong and what to do about it. None ever quotes a secret: messages about secret values
say what form was expected, never what was found.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str  # dotted, e.g. "eboekhouden.security_code_1"; "" for the file as a whole
    line: int | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        subject = f" {self.key}:" if self.key else ""
        return f"{where}:{subject} {self.message}. Fix: {self.fix}"


class ConfigError(Exception):
    """The config cannot be used; `problems` lists every reason, str() shows one per line."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class Invalid(Exception):
    """Raised by a value parser: what is wrong with the value, and how to write it instead."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.message = message
        self.fix = fix
