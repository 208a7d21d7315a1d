"""The PerfectView side of the register: fields, relation types, users, the invoice workflow.

Every check reads metadata only (entity types, fields, users, workflows, steps, VAT
codes), through the same client and Catalog the jobs use, so what passes here resolves
the same way in a run. A name the database lacks comes back with the names it does have,
nearest first, each with the config line that would use it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from core.assumptions.findings import (MISSING, NOT_CHECKED, OK, UNVERIFIED, WARNING, Finding, Fix, equally_nearest,
                                       nearest, similar)
from core.config.settings import RELATION_TYPES as DEFAULT_RELATION_TYPES
from core.model import RelationKind
from core.perfectview.catalog import PvField
from core.perfectview.errors import NotInDatabase
from core.perfectview.fields import OPTIONAL, FieldRef

SERVICE = "PerfectView"
TABLE_WORDS = {"organisation": "Organisation", "person": "Person", "relationship": "The customer relationship",
               "invoice": "The invoice workflow"}


# What is lost without an optional field (core.perfectview.fields.OPTIONAL).
DOES_WITHOUT = {"total": "the invoice total check is off",
                "kvk_number": "a twin on a first import is not recognised by its KvK number"}
# Relations read both kinds' fields; invoices read a relation's Debiteurnummer and name.
RELATION_JOBS = ("relations", "invoices")


def import_jobs(config: Any) -> tuple[str, ...]:
    # The import is a part of the relations job: what only it needs does not stop the export
    # (the job reports it and exports on), but `pvsync check` still fails on it.
    return ("relations.import",)


def check(config: Any, pv: Any, enabled: Callable[[tuple[str, ...]], bool], *,
          required_only: bool = False) -> list[Finding]:
    """Every PerfectView assumption, against the database `pv` reaches. `enabled(jobs)` says
    whether any of those jobs is switched on; `required_only` leaves out what can only warn
    (a run's check before its jobs: no call that the jobs would not make anyway)."""
    found: list[Finding] = []

    def add(finding: Finding) -> None:
        found.append(replace(finding, needed=enabled(finding.jobs)))

    def wanted(jobs: tuple[str, ...]) -> bool:
        # Before a run only what a switched-on job needs is read: no call the jobs would not make.
        return enabled(jobs) or not required_only

    if wanted(RELATION_JOBS):
        for kind in (RelationKind.ORGANISATION, RelationKind.PERSON):
            table = "organisation" if kind is RelationKind.ORGANISATION else "person"
            for finding in _fields(pv, table, pv.relation_fields(kind), RELATION_JOBS):
                add(finding)
    if wanted(import_jobs(config)):
        for finding in _relation_types(config, pv):
            add(finding)
        relationship = _relationship_type(config, pv)
        add(relationship)
        for finding in _relationship_fields(config, pv, relationship):
            add(finding)
        if config.relations.account_manager:
            add(_account_manager(config, pv))
    if not wanted(("invoices", "payments")):
        return found
    workflow = _workflow(config, pv)
    add(workflow)
    for finding in _workflow_parts(config, pv, workflow):
        add(finding)
    if required_only:
        return found
    for finding in _vat_codes(config, pv):
        add(finding)
    # The country needs only its own field, so it is compared in the same round as the others.
    country_field = next((f for f in found if f.key == "perfectview.field.organisation.visiting_address.country"),
                         None)
    add(_own_country(config, pv) if country_field is None or country_field.status == OK else
        Finding("perfectview.own_country", SERVICE, "The own organisation's country", NOT_CHECKED,
                "read once the organisation's field for the visiting address country is found", jobs=("invoices",)))
    return found


# --------------------------------------------------------------------------- fields


def _fields(pv: Any, table: str, fields: list[PvField], jobs: tuple[str, ...]) -> list[Finding]:
    findings = []
    matches = {attribute: next((f for f in fields if ref.matches(f.category, f.label, f.name)), None)
               for attribute, ref in pv.tables[table].items()}
    # A field that already holds another attribute is no candidate ("Factuurdatum" for the number).
    free = [f for f in fields if f not in matches.values()]
    for attribute, ref in pv.tables[table].items():
        match = matches[attribute]
        key = f"perfectview.field.{table}.{attribute}"
        what = _field_what(table, attribute, ref)
        if match is not None:
            findings.append(Finding(key, SERVICE, what, OK, found=f"{match} ({match.name})", jobs=jobs))
            continue
        optional = attribute in OPTIONAL.get(table, frozenset())
        detail, fixes = _missing_field(table, attribute, ref, fields, free)
        if optional:
            detail += f"; pvsync does without it ({DOES_WITHOUT.get(attribute, 'it is left empty')})"
        findings.append(Finding(key, SERVICE, what, WARNING if optional else MISSING, detail, fixes=fixes,
                                jobs=jobs))
    return findings


def _field_what(table: str, attribute: str, ref: FieldRef) -> str:
    return f"{TABLE_WORDS[table]} field for {attribute.replace('_', ' ')} ({ref})"


def _missing_field(table: str, attribute: str, ref: FieldRef, fields: list[PvField], free: list[PvField]
                   ) -> tuple[str, tuple[Fix, ...]]:
    """'Organisation has no field Administratie / Debiteurnummer; fields in Administratie: ...',
    and the `free` fields (holding no other attribute) closest to it as candidates."""
    where = TABLE_WORDS[table]
    if ref.name:
        names = nearest(ref.name, [f.name for f in free])
        return (f"{where} has no field with Name {ref.name}; nearest: {', '.join(names) or 'none'}",
                tuple(Fix(name, ("perfectview", "fields", f"{table}.{attribute}"), name) for name in names))
    same_category = [f for f in fields if f.category.casefold() == ref.category.casefold()]
    # The free fields of the expected tab first, closest label first; then free fields elsewhere
    # whose label is close (a field kept on another tab).
    in_category = nearest(ref.label, [f.label for f in same_category], limit=len(same_category))
    free_labels = nearest(ref.label, [f.label for f in same_category if f in free], limit=len(same_category))
    candidates = [f"{ref.category} / {label}" for label in free_labels if similar(ref.label, label)]
    elsewhere = [str(f) for f in free if f not in same_category and similar(ref.label, f.label)]
    candidates += nearest(str(ref), elsewhere)
    # Nothing alike: every free field of the tab is a candidate (a label may be quite another word).
    candidates = (candidates or [f"{ref.category} / {label}" for label in free_labels])[:6]
    detail = f"{where} has no field {ref}"
    if same_category:
        detail += f"; fields in {ref.category}: {', '.join(in_category)}"
    else:
        detail += f"; it has no tab {ref.category}"
    others = [c for c in candidates if not c.casefold().startswith(ref.category.casefold() + " / ")]
    if others:
        detail += f"; nearest elsewhere: {', '.join(others[:3])}"
    return detail, tuple(Fix(c, ("perfectview", "fields", f"{table}.{attribute}"), c) for c in candidates)


# --------------------------------------------------------------------------- relation types, users


def _named(key: str, what: str, wanted: str, names: list[str], config_key: tuple[str, ...], jobs: tuple[str, ...],
           kind: str) -> Finding:
    """A name the config gives that the database must have, with the database's names as candidates."""
    match = next((n for n in names if n.strip().casefold() == wanted.strip().casefold()), None)
    if match is not None:
        return Finding(key, SERVICE, what, OK, found=match, jobs=jobs)
    candidates = nearest(wanted, names)
    detail = f"PerfectView has no {kind} {wanted!r}; it has: {', '.join(sorted(names, key=str.casefold)) or 'none'}"
    return Finding(key, SERVICE, what, MISSING, detail, fixes=tuple(Fix(c, config_key, c) for c in candidates),
                   jobs=jobs)


def _relation_types(config: Any, pv: Any) -> list[Finding]:
    organisation_types = [t.name for t in pv.relation_types(RelationKind.ORGANISATION)]
    person_types = [t.name for t in pv.relation_types(RelationKind.PERSON)]
    jobs = import_jobs(config)
    wanted = config.relations.import_relation_type
    findings = [_named("perfectview.relation_type.import", f"Relation type {wanted!r} for imported organisations",
                       wanted, organisation_types, ("relations", "import_relation_type"), jobs,
                       "organisation relation type")]
    same = [n for n in person_types if n.casefold() == wanted.casefold()]
    what = "A person relation type for imported persons (the one of the same name, or the only one)"
    if same or len(person_types) == 1:
        findings.append(Finding("perfectview.relation_type.person", SERVICE, what, OK,
                                found=(same or person_types)[0], jobs=jobs))
    else:
        findings.append(Finding("perfectview.relation_type.person", SERVICE, what, MISSING,
                                f"PerfectView has {len(person_types)} person relation types and none is called "
                                f"{wanted!r}: {', '.join(person_types) or 'none'}",
                                fixes=tuple(Fix(n, ("relations", "import_relation_type"), n) for n in person_types),
                                jobs=jobs))
    lacking = [n for n in DEFAULT_RELATION_TYPES if n.casefold() not in {t.casefold() for t in organisation_types}]
    what = f"The relation types {', '.join(DEFAULT_RELATION_TYPES)}"
    if lacking:
        findings.append(Finding("perfectview.relation_type.defaults", SERVICE, what, WARNING,
                                f"this database lacks {', '.join(lacking)} and has "
                                f"{', '.join(organisation_types)}; pvsync only needs the one set as "
                                "relations.import_relation_type, and exports relations of every type",
                                found=", ".join(organisation_types)))
    else:
        findings.append(Finding("perfectview.relation_type.defaults", SERVICE, what, OK,
                                found=", ".join(organisation_types)))
    return findings


def _relationship_type(config: Any, pv: Any) -> Finding:
    names = [t.name for t in pv.entity_types() if t.base_entity_type == "Relationship"]
    wanted = config.perfectview.customer_relationship_type
    return _named("perfectview.relationship_type", f"Relationship type {wanted!r} linking the own organisation "
                  "to a customer", wanted, names, ("perfectview", "customer_relationship_type"),
                  import_jobs(config), "relationship type")


def _account_manager(config: Any, pv: Any) -> Finding:
    wanted = config.relations.account_manager
    names = [u.display_name for u in pv.users()]
    if any(u.id == wanted.strip().lower() for u in pv.users()):
        return Finding("perfectview.account_manager", SERVICE, "The relatiebeheerder of imported relations", OK,
                       found=wanted, jobs=import_jobs(config))
    return _named("perfectview.account_manager", f"User {wanted!r}, the relatiebeheerder of imported relations",
                  wanted, names, ("relations", "account_manager"), import_jobs(config), "active user")


# --------------------------------------------------------------------------- the invoice workflow


def _workflow(config: Any, pv: Any) -> Finding:
    wanted = config.invoices.workflow
    try:
        flow = pv.workflow(wanted)
    except NotInDatabase as missing:
        return _named("perfectview.workflow", f"Sales invoice workflow {wanted!r}", wanted, missing.available,
                      ("invoices", "workflow"), ("invoices", "payments"), "workflow")
    return Finding("perfectview.workflow", SERVICE, f"Sales invoice workflow {wanted!r}", OK,
                   found=f"{flow.name} ({flow.id})", jobs=("invoices", "payments"))


# The invoice workflow's steps: setting, the jobs that need it, what it is for.
STEPS = (("sent_step", ("invoices", "payments"), "sent invoices (booked)"),
         ("paid_step", ("payments",), "paid invoices"))


def _proposal(wanted: str, names: list[str], setting: str, kind: str) -> tuple[str, str]:
    """For a name the database lacks, the one to check what depends on it against: the nearest,
    the one the missing finding's first line names, and the words saying so. ("", why not) when
    several are equally near (choosing would be a guess) or there is none."""
    proposals = equally_nearest(wanted, names)
    if len(proposals) == 1:
        return proposals[0], f"checked against {kind} {proposals[0]!r}, the one suggested above"
    if proposals:
        return "", (f"not checked: {len(proposals)} {kind}s are equally near {wanted!r} "
                    f"({', '.join(repr(p) for p in proposals)}), and pvsync does not guess; choose one as "
                    f"{setting} (above) and check again")
    return "", f"not checked: this PerfectView database has no {kind}; add it and check again"


def _against_proposal(findings: list[Finding], name: str, note: str) -> list[Finding]:
    """`findings` made against a proposed name: each says so, and holds once the proposal is set."""
    return [replace(f, detail=f"{f.detail}; {note}" if f.detail else note, checked_against=name) for f in findings]


def _waiting(table: str, pv: Any, why: str, jobs: tuple[str, ...]) -> list[Finding]:
    """A table's fields when what they belong to waits for the admin's choice: each under its own
    key, as when it is found, so a script finds it either way."""
    return [Finding(f"perfectview.field.{table}.{attribute}", SERVICE, _field_what(table, attribute, ref),
                    NOT_CHECKED, why, jobs=jobs) for attribute, ref in pv.tables[table].items()]


def _relationship_fields(config: Any, pv: Any, relationship: Finding) -> list[Finding]:
    """The customer relationship's fields (the relatiebeheerder), against the configured type or,
    when the database lacks it, the one check proposes: one round names every mismatch."""
    jobs = import_jobs(config) if config.relations.account_manager else ()
    name, note = config.perfectview.customer_relationship_type, ""
    if relationship.status != OK:
        names = [t.name for t in pv.entity_types() if t.base_entity_type == "Relationship"]
        name, note = _proposal(name, names, "perfectview.customer_relationship_type", "relationship type")
        if not name:
            return _waiting("relationship", pv, note, jobs)
    found = _fields(pv, "relationship", pv.entity_type_fields(pv.relationship_type_id(name)), jobs)
    return _against_proposal(found, name, note) if note else found


def _workflow_parts(config: Any, pv: Any, workflow: Finding) -> list[Finding]:
    """The sent and paid steps, the invoice fields and the paid transition, checked against the
    configured workflow; when the database lacks it, against the workflow check proposes in its
    place, so one round of `pvsync check` names every mismatch. With several workflows equally
    near, choosing would be a guess: they wait for the admin's choice and say so."""
    name, note = config.invoices.workflow, ""
    if workflow.status != OK:
        name, note = _proposal(name, [w.name for w in pv.workflows()], "invoices.workflow", "workflow")
        if not name:
            return [*(Finding(f"perfectview.step.{setting}", SERVICE,
                              f"Step {getattr(config.invoices, setting)!r} of the sales invoice workflow for {role}",
                              NOT_CHECKED, note, jobs=jobs) for setting, jobs, role in STEPS),
                    *_waiting("invoice", pv, "not checked until invoices.workflow names the sales invoice workflow "
                                             "(see the steps)", ("invoices",)),
                    _transition(config, [])]
    steps = _steps(config, pv, name)
    found = [*steps, *_fields(pv, "invoice", pv.activity_fields(name), ("invoices",)), _transition(config, steps)]
    return _against_proposal(found, name, note) if note else found


def _steps(config: Any, pv: Any, workflow: str) -> list[Finding]:
    invoices = config.invoices
    steps = pv.workflow_steps(workflow)
    findings = []
    for setting, jobs, role in STEPS:
        wanted = getattr(invoices, setting)
        step = next((s for s in steps if wanted.strip().casefold() in (s.name.casefold(), s.id)), None)
        what = f"Step {wanted!r} of workflow {workflow!r} for {role}"
        if step is not None:
            findings.append(Finding(f"perfectview.step.{setting}", SERVICE, what, OK,
                                    found=f"{step.name} ({step.id})", jobs=jobs))
            continue
        findings.append(_named(f"perfectview.step.{setting}", what, wanted, [s.name for s in steps],
                               ("invoices", setting), jobs, f"step in workflow {workflow!r}"))
    return findings


def _step_name(step: Finding | None, configured: str) -> tuple[str, bool]:
    """The step's name in the database as checked, or the one check suggests (True), or as configured."""
    if step is not None and step.status == OK:
        return step.found.rsplit(" (", 1)[0], False  # found is "Name (Id)"
    if step is not None and step.fixes:
        return step.fixes[0].candidate, True
    return configured, False


def _transition(config: Any, steps: list[Finding]) -> Finding:
    invoices = config.invoices
    checked = {f.key: f for f in steps}
    sent, sent_suggested = _step_name(checked.get("perfectview.step.sent_step"), invoices.sent_step)
    paid, paid_suggested = _step_name(checked.get("perfectview.step.paid_step"), invoices.paid_step)
    what = f"How an invoice moves from {sent!r} to {paid!r} (ActivityFlow's transitionId)"
    # Named by the steps check suggests, so the line reads right once those are set.
    suggested = f"; {sent!r} and {paid!r} are the steps suggested above" if sent_suggested or paid_suggested else ""
    if invoices.paid_transition:
        return Finding("perfectview.transition.paid", SERVICE, what, UNVERIFIED,
                       f"invoices.paid_transition is {invoices.paid_transition}; PerfectView's API lists no "
                       "transitions, so it is first tried on the first paid invoice",
                       found=invoices.paid_transition, jobs=("payments",))
    return Finding("perfectview.transition.paid", SERVICE, what, UNVERIFIED,
                   "pvsync hands PerfectView the paid step's Id [inferred]; the API lists no transitions, so this "
                   "shows on the first paid invoice. If PerfectView refuses it, the payments job says so and the "
                   "transition's own Id (PerfectView, the workflow's settings) goes in invoices.paid_transition"
                   f"{suggested}",
                   fixes=(Fix("the transition's Id", ("invoices", "paid_transition"),
                              f"<Id of the transition {sent} -> {paid}>"),),
                   jobs=("payments",))


# --------------------------------------------------------------------------- VAT and the own country


def _vat_codes(config: Any, pv: Any) -> list[Finding]:
    country = config.vat.own_country
    names = [v.description for v in pv.vat_codes()]
    findings = []
    for name in config.vat.own_rules():
        what = f"PerfectView VAT code {name!r} of the [vat.{country}] mapping"
        if name.casefold() in {n.casefold() for n in names}:
            findings.append(Finding(f"perfectview.vat.{name}", SERVICE, what, OK, found=name, jobs=("invoices",)))
        else:
            # An unused rule does no harm; it is named because it is often a VAT code renamed in PerfectView.
            candidates = nearest(name, [n for n in names if n not in config.vat.own_rules()], limit=3)
            findings.append(Finding(f"perfectview.vat.{name}", SERVICE, what, WARNING,
                                    f"PerfectView has no VAT code {name!r}, so this rule is never used; nearest "
                                    f"unmapped: {', '.join(candidates) or 'none'}. Rename the rule to the code's "
                                    "description (console, VAT screen)", jobs=("invoices",)))
    unmapped = [n for n in names if n not in config.vat.own_rules()]
    what = f"Every PerfectView VAT code mapped in [vat.{country}]"
    if unmapped:
        findings.append(Finding("perfectview.vat.unmapped", SERVICE, what, WARNING,
                                f"not mapped: {', '.join(unmapped)}; an invoice with one of these waits until it is "
                                "mapped (console, VAT screen)", found=", ".join(unmapped), jobs=("invoices",)))
    else:
        findings.append(Finding("perfectview.vat.unmapped", SERVICE, what, OK, jobs=("invoices",)))
    return findings


def _own_country(config: Any, pv: Any) -> Finding:
    country = pv.own_country()
    wanted = config.vat.own_country
    what = f"The own organisation's visiting address is in {wanted} (vat.own_country)"
    if country == wanted:
        return Finding("perfectview.own_country", SERVICE, what, OK, found=country, jobs=("invoices",))
    return Finding("perfectview.own_country", SERVICE, what, WARNING,
                   f"PerfectView's own organisation is in {country or 'no country'}; the VAT mapping of "
                   f"{wanted} is used", found=country,
                   fixes=(Fix(country, ("vat", "own_country"), country),) if country else (), jobs=("invoices",))
