"""`pvsync check`'s words for the register: one block per assumption, and the JSON for scripts."""

from __future__ import annotations

from typing import Any, Iterable

from core.assumptions.findings import MISSING, NOT_CHECKED, OK, UNVERIFIED, WARNING, Finding

SHOWN_FIXES = 3  # nearest first; --json has them all
LABELS = {OK: "OK", MISSING: "MISSING", WARNING: "WARNING", UNVERIFIED: "UNVERIFIED", NOT_CHECKED: "NOT CHECKED"}


def lines(findings: Iterable[Finding]) -> list[str]:
    out = []
    for finding in findings:
        label = LABELS[finding.status] if finding.needed or finding.status == OK else f"{LABELS[finding.status]}*"
        out.append(f"  {label:<12} {finding.service:<13} {finding.what}")
        if finding.detail:  # an OK has one only when it holds under a proposal ("checked against ...")
            out.append(f"  {'':<12} {'':<13} {finding.detail}")
        for fix in finding.fixes[:SHOWN_FIXES] if finding.status != OK else ():
            header, line = fix.lines()
            out.append(f"  {'':<12} {'':<13} to use {fix.candidate!r}: {header}  {line}")
    return out


def summary(findings: list[Finding], *, lines_are: str = "above") -> str:
    """One sentence on the findings; `lines_are` says where the reader sees them ("below" on the
    setup screen, which shows its choices under the sentence)."""
    blocking = [f for f in findings if f.blocks]
    jobs = sorted({job for f in blocking for job in f.jobs})
    counts = {status: sum(1 for f in findings if f.status == status) for status in LABELS}
    head = (f"{len(blocking)} missing that {', '.join(jobs)} need{'s' if len(jobs) == 1 else ''}: they will not start "
            f"until the lines {lines_are} are set" if blocking else "nothing a switched-on job needs is missing")
    off = sum(1 for f in findings if f.status == MISSING and not f.needed)
    tail = f"; {off} missing only for jobs that are off (marked *)" if off else ""
    return (f"{head}{tail}. {counts[OK]} OK, {counts[WARNING]} warnings, {counts[UNVERIFIED]} unverified, "
            f"{counts[NOT_CHECKED]} not checked.")


def as_json(findings: list[Finding], fingerprint: str) -> dict[str, Any]:
    return {"ok": not any(f.blocks for f in findings), "fingerprint": fingerprint,
            "assumptions": [f.to_json() for f in findings]}
