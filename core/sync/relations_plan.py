"""Planning a relation sync: a pure function of both sides, the stored links and the settings.

The plan is a list of actions, each with a reason a person can read. Nothing is ever
deleted: a linked relation that disappears is reported. Relations are linked by
Debiteurnummer = Code, never by name. When both directions are on, PerfectView wins,
and every field it overwrites is listed with its old and new value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from math import ceil
from typing import Callable, Collection, Iterable, Mapping, Sequence

from core.model import CrmRelation, EbRelation, RelationLink  # RelationLink: the store's record, re-exported
from core.sync.mapping import (FieldChange, RelationProblem, changes, crm_hash, crm_relation_problems,
                               crm_to_eboekhouden_values, eboekhouden_hash, eboekhouden_to_crm, merge_into)
from core.sync.twins import TwinCandidate, TwinFinder

# Updates below this count never trip the share guard: a small administration where
# three of five relations changed is normal, not a sign of a broken side.
GUARD_MINIMUM_UPDATES = 5
# Where details cost a call each (REST), the full pass compares this share of the linked
# relations whose PerfectView side did not change: each one at least every COMPARE_DAYS
# full passes, and never fewer than COMPARE_MINIMUM a pass (a small administration: all).
COMPARE_DAYS = 7
COMPARE_MINIMUM = 50


@dataclass(frozen=True)
class RelationSyncSettings:
    export_to_eboekhouden: bool = True
    import_from_eboekhouden: bool = False
    person_name_format: str = "Voornaam Achternaam"
    import_relation_type: str = "Klant"
    account_manager_id: str = ""
    max_change_share: float = 0.5


# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class CreateInEboekhouden:
    pv_id: str
    code: str
    wanted: EbRelation
    pv_hash: str
    reason: str = "new customer in PerfectView"


@dataclass(frozen=True)
class UpdateInEboekhouden:
    pv_id: str
    code: str
    current: EbRelation
    wanted: EbRelation
    changes: tuple[FieldChange, ...]
    pv_hash: str
    reason: str = "changed in PerfectView"


@dataclass(frozen=True)
class LinkUnchanged:
    """Same content on both sides: record the link and hashes, write nothing."""

    pv_id: str
    code: str
    eb_id: int
    pv_hash: str
    eb_hash: str
    reason: str = "unchanged"


@dataclass(frozen=True)
class ImportIntoPerfectView:
    code: str
    relation: CrmRelation
    eb_id: int
    eb_hash: str
    reason: str = "customer in e-Boekhouden, not yet in PerfectView"


@dataclass(frozen=True)
class ProposeTwin:
    """An e-Boekhouden customer PerfectView most likely has already, without a Debiteurnummer:
    not imported, but proposed for linking until a person accepts or rejects it."""

    code: str
    relation: EbRelation
    candidates: tuple[TwinCandidate, ...]
    reason: str = "PerfectView most likely has this customer already, without a Debiteurnummer"


@dataclass(frozen=True)
class LinkTwin:
    """An accepted proposal: fill the Debiteurnummer of the PerfectView relation and link it."""

    code: str
    pv_id: str
    current: EbRelation  # as read: with export on, PerfectView's fields then overwrite it, as for every link
    name: str
    reason: str = "the proposed link was accepted"


@dataclass(frozen=True)
class TwinDecision:
    """What a person decided about the proposal for one e-Boekhouden code."""

    state: str  # "pending", "accepted" or "rejected"
    pv_id: str = ""  # the PerfectView relation chosen (accepted)


@dataclass(frozen=True)
class RelationBlocked:
    subject: str  # "D10001 (Bakkerij Jansen)" or a PerfectView name
    pv_id: str
    problems: tuple[RelationProblem, ...]


@dataclass(frozen=True)
class RelationDisappeared:
    side: str  # "PerfectView" or "e-Boekhouden"
    pv_id: str
    code: str
    reason: str


Action = (CreateInEboekhouden | UpdateInEboekhouden | LinkUnchanged | ImportIntoPerfectView | ProposeTwin | LinkTwin
          | RelationBlocked | RelationDisappeared)
WRITES = (CreateInEboekhouden, UpdateInEboekhouden, ImportIntoPerfectView, LinkTwin)


@dataclass(frozen=True)
class GuardStop:
    """The plan is not applied: one side looks broken, or it would change too much."""

    reason: str
    needs_force: bool  # True: `--force` (or a console confirm) may override it


@dataclass
class RelationPlan:
    actions: list[Action] = field(default_factory=list)
    stop: GuardStop | None = None

    def writes(self) -> list[Action]:
        return [a for a in self.actions if isinstance(a, WRITES)]

    def of(self, kind: type) -> list:
        return [a for a in self.actions if isinstance(a, kind)]


def _label(relation: CrmRelation) -> str:
    name = relation.name or " ".join(p for p in (relation.first_name, relation.middle_name, relation.last_name) if p)
    return f"{relation.debtor_number or '(geen debiteurnummer)'} ({name or relation.id})"


def plan_relations(*, perfectview: Sequence[CrmRelation], eboekhouden: Sequence[EbRelation],
                   links: Iterable[RelationLink], settings: RelationSyncSettings, customer_codes: set[str],
                   full_pass: bool = True, force: bool = False,
                   eboekhouden_limits: Callable[[EbRelation], list[RelationProblem]] | None = None,
                   other_debtor_numbers: Collection[str] = (), retired_codes: Collection[str] = (),
                   eboekhouden_index: Mapping[str, int] | None = None,
                   twin_decisions: Mapping[str, TwinDecision] | None = None) -> RelationPlan:
    """Plan one relation sync.

    `perfectview` holds every PerfectView relation on a full pass, or only those
    modified since the cursor otherwise (then nothing can be judged missing).
    `customer_codes` are the e-Boekhouden codes that count as customers for import.
    `eboekhouden_limits` checks a relation against e-Boekhouden's field limits.
    `other_debtor_numbers` are the Debiteurnummers of PerfectView relations not in
    `perfectview` (an incremental pass): PerfectView has them, so they are never imported.
    `retired_codes` were linked to a PerfectView relation that took another Debiteurnummer:
    they stay in e-Boekhouden and are not imported back as new PerfectView relations.
    `eboekhouden_index` (code -> ID of every e-Boekhouden relation) is given when
    `eboekhouden` holds the details of only the relations `relation_codes_to_read` named;
    a linked relation that was not read is as pvsync last wrote or read it.
    `twin_decisions` are what people decided about proposed twins (core.sync.twins): an
    accepted one is linked, a rejected one imported; a customer with a twin and no
    decision is proposed, not imported. Twins are looked for on a full pass only (the
    job makes a pass full while a customer may need one).
    """
    plan = RelationPlan()
    links = list(links)
    link_by_pv = {link.pv_id: link for link in links}
    link_by_code = {link.code: link for link in links}
    eb_by_code = {rel.code: rel for rel in eboekhouden}
    eb_codes: Mapping[str, object] = eb_by_code if eboekhouden_index is None else eboekhouden_index
    fmt = settings.person_name_format

    if links and full_pass and not perfectview:
        plan.stop = GuardStop(f"PerfectView returned no relations while {len(links)} are linked; "
                              "nothing was written. Check the PerfectView connection and database id.", needs_force=False)
        return plan
    if links and not eb_codes:
        plan.stop = GuardStop(f"e-Boekhouden returned no relations while {len(links)} are linked; "
                              "nothing was written. Check the e-Boekhouden administration.", needs_force=False)
        return plan

    by_debtor = _by_debtor_number(perfectview)
    if settings.export_to_eboekhouden:
        for code, group in sorted(by_debtor.items()):
            if len(group) > 1:
                # Sorted: the same duplicates read in another order are the same problem.
                names = ", ".join(sorted(_label(r) for r in group))
                for relation in group:
                    plan.actions.append(RelationBlocked(_label(relation), relation.id, (RelationProblem(
                        "code", f"Debiteurnummer {code} is used by {len(group)} PerfectView relations: {names}",
                        "give each relation its own Debiteurnummer in PerfectView"),)))
                continue
            if code in eb_codes and code not in eb_by_code:
                plan.actions.append(_keep_unread(group[0], link_by_pv.get(group[0].id), fmt))
                continue
            plan.actions.append(_plan_export(group[0], eb_by_code.get(code), link_by_pv.get(group[0].id), fmt,
                                             eboekhouden_limits))

    if settings.import_from_eboekhouden:
        known_codes = _known_codes(by_debtor, other_debtor_numbers, retired_codes)
        finder = TwinFinder(perfectview if full_pass else (), fmt)
        linking: set[str] = set()  # PerfectView relations an accepted proposal links in this plan
        for code in eb_codes:
            if code in known_codes or code not in customer_codes:
                continue
            if code in link_by_code:
                if full_pass:
                    plan.actions.append(RelationDisappeared(
                        "PerfectView", link_by_code[code].pv_id, code,
                        f"relation {code} was linked but is gone from PerfectView (or lost its "
                        "Debiteurnummer); it is not created again and nothing is deleted in e-Boekhouden"))
                continue
            relation = eb_by_code.get(code)
            if relation is None:
                raise ValueError(f"the details of e-Boekhouden relation {code} (a new customer) were not read")
            twin = _twin_action(relation, (twin_decisions or {}).get(code), finder, linking)
            if twin is not None:
                plan.actions.append(twin)
                continue
            crm = eboekhouden_to_crm(relation, relation_type=settings.import_relation_type,
                                     account_manager_id=settings.account_manager_id)
            plan.actions.append(ImportIntoPerfectView(relation.code, crm, relation.id, eboekhouden_hash(relation)))

    reported = {(a.side, a.code) for a in plan.of(RelationDisappeared)}
    seen_pv = {r.id for r in perfectview}
    for link in links:
        if full_pass and link.pv_id not in seen_pv and ("PerfectView", link.code) not in reported:
            plan.actions.append(RelationDisappeared(
                "PerfectView", link.pv_id, link.code,
                f"relation {link.code} is gone from PerfectView; nothing is deleted in e-Boekhouden"))
        elif link.code not in eb_codes and ("e-Boekhouden", link.code) not in reported:
            plan.actions.append(_gone_from_eboekhouden(link.pv_id, link.code))

    # The share is of the relations both sides have: the linked ones, or on a first run
    # against an administration whose codes already match, those the plan compared.
    updates = plan.of(UpdateInEboekhouden)
    both_sides = max(len(links), len(updates) + len(plan.of(LinkUnchanged)))
    if not force and len(updates) >= GUARD_MINIMUM_UPDATES:
        share = len(updates) / both_sides
        if share > settings.max_change_share:
            plan.stop = GuardStop(f"this run would overwrite {len(updates)} of {both_sides} relations that exist in "
                                  f"both PerfectView and e-Boekhouden ({share:.0%}, more than the configured "
                                  f"{settings.max_change_share:.0%}); nothing was written. Run `pvsync sync --only "
                                  "relations --force` or confirm in the console if that is intended", needs_force=True)
    return plan


def relation_codes_to_read(*, perfectview: Sequence[CrmRelation], links: Iterable[RelationLink],
                           eboekhouden_index: Mapping[str, int], settings: RelationSyncSettings,
                           customer_codes: Collection[str], compare: Collection[str] = (),
                           other_debtor_numbers: Collection[str] = (),
                           retired_codes: Collection[str] = ()) -> set[str]:
    """The e-Boekhouden relations whose details `plan_relations` needs, where each costs a call.

    Export: a relation whose PerfectView side changed since pvsync last wrote or read it,
    that is not linked yet (or was adopted, or was made again in e-Boekhouden under a new
    ID), or that is in `compare` (the full pass's slice). Import: the customers PerfectView
    does not know. Not read: a Debiteurnummer used twice (blocked) and every unchanged link.
    """
    fmt = settings.person_name_format
    links = list(links)
    link_by_pv = {link.pv_id: link for link in links}
    by_debtor = _by_debtor_number(perfectview)
    wanted: set[str] = set()
    if settings.export_to_eboekhouden:
        for code, group in by_debtor.items():
            if len(group) > 1 or code not in eboekhouden_index:
                continue
            link = link_by_pv.get(group[0].id)
            if (code in compare or link is None or link.code != code or not link.eb_hash
                    or link.eb_id != eboekhouden_index[code] or link.pv_hash != crm_hash(group[0], fmt)):
                wanted.add(code)
    if settings.import_from_eboekhouden:
        known = _known_codes(by_debtor, other_debtor_numbers, retired_codes) | {link.code for link in links}
        wanted |= {code for code in eboekhouden_index if code in customer_codes and code not in known}
    return wanted


def compare_slice(linked_codes: Iterable[str], after: str | None) -> list[str]:
    """The linked codes the full pass compares this time: the next ones after `after` (the
    last code compared before) in code order, wrapping round; every code once in
    COMPARE_DAYS passes."""
    codes = sorted(set(linked_codes))
    size = min(len(codes), max(COMPARE_MINIMUM, ceil(len(codes) / COMPARE_DAYS)))
    start = 0 if after is None else next((i for i, code in enumerate(codes) if code > after), 0)
    return (codes[start:] + codes[:start])[:size]


def _by_debtor_number(perfectview: Iterable[CrmRelation]) -> dict[str, list[CrmRelation]]:
    by_debtor: dict[str, list[CrmRelation]] = defaultdict(list)
    for relation in perfectview:
        if relation.debtor_number.strip():
            by_debtor[relation.debtor_number.strip()].append(relation)
    return by_debtor


def _known_codes(by_debtor: Mapping[str, object], other_debtor_numbers: Collection[str],
                 retired_codes: Collection[str]) -> set[str]:
    """Codes PerfectView has (read or not this run), or once had: never imported."""
    return set(by_debtor) | {number.strip() for number in other_debtor_numbers} | set(retired_codes)


def _keep_unread(relation: CrmRelation, link: RelationLink | None, fmt: str) -> Action:
    """A linked relation not read from e-Boekhouden: unchanged in PerfectView since pvsync
    last wrote or read it (relation_codes_to_read), so kept as linked."""
    code = relation.debtor_number.strip()
    if link is None or link.code != code:
        raise ValueError(f"the details of e-Boekhouden relation {code} were not read")
    problems = crm_relation_problems(relation, fmt)
    if problems:
        return RelationBlocked(_label(relation), relation.id, tuple(problems))
    return LinkUnchanged(relation.id, code, link.eb_id, crm_hash(relation, fmt), link.eb_hash)
def _twin_action(relation: EbRelation, decision: TwinDecision | None, finder: TwinFinder,
                 linking: set[str]) -> ProposeTwin | LinkTwin | None:
    """The proposal or link for an e-Boekhouden customer with a PerfectView twin; None: import it."""
    if decision is not None and decision.state == "rejected":
        return None
    if decision is not None and decision.state == "accepted" and decision.pv_id not in linking:
        linking.add(decision.pv_id)
        return LinkTwin(relation.code, decision.pv_id, relation, relation.bedrijf)
    candidates = tuple(c for c in finder.candidates(relation) if c.pv_id not in linking)
    return ProposeTwin(relation.code, relation, candidates) if candidates else None


def _plan_export(relation: CrmRelation, current: EbRelation | None, link: RelationLink | None, fmt: str,
                 limits: Callable[[EbRelation], list[RelationProblem]] | None) -> Action:
    code = relation.debtor_number.strip()
    if current is None and link is not None and link.code == code:
        return _gone_from_eboekhouden(relation.id, code)
    values = crm_to_eboekhouden_values(relation, fmt)  # worked out once: a first run plans 10,000
    problems = list(crm_relation_problems(relation, fmt, values=values))
    wanted = merge_into(current, relation, fmt, values=values)
    if limits is not None and not problems:
        problems.extend(limits(wanted))
    if problems:
        return RelationBlocked(_label(relation), relation.id, tuple(problems))
    pv_hash = crm_hash(relation, fmt, values=values)
    kind = relation.kind
    if current is None:
        return CreateInEboekhouden(relation.id, code, wanted, pv_hash)
    diff = changes(current, wanted, kind)
    if not diff:
        return LinkUnchanged(relation.id, code, current.id, pv_hash, eboekhouden_hash(current))
    return UpdateInEboekhouden(relation.id, code, current, wanted, tuple(diff), pv_hash)


def _gone_from_eboekhouden(pv_id: str, code: str) -> RelationDisappeared:
    return RelationDisappeared("e-Boekhouden", pv_id, code,
                               f"relation {code} is gone from e-Boekhouden; it is not created again automatically "
                               "— restore it there or clear the Debiteurnummer in PerfectView")
