"""The relation sync job: read both sides, plan (core.sync.relations_plan), apply action by action.

PerfectView is read in full on the first run and every `full_pass_hours`, and modified-since
the cursor in between. An incremental read alone would miss three things, so the job fetches
them on purpose: a linked relation that changed only in e-Boekhouden (its stored hash no
longer matches; PerfectView must win there too), a relation that did not change but
shares a Debiteurnummer with one that did (a duplicate must block both), and the blocked
relations (their cause may have been fixed in another relation).

e-Boekhouden is listed whole (code -> ID, `relation_index`). Where the details come with
that list (SOAP's one GetRelaties), every relation is compared on every run. Where each
costs a call (REST), only those the plan needs are read (relations_plan.relation_codes_to_read):
new customers, links whose PerfectView side changed, and on the full pass a rotating slice of
the unchanged links, so a change made only in e-Boekhouden is overwritten within
COMPARE_DAYS full passes instead of every relation being read every day. Each write is applied and its link saved on its own, so a
failure costs that one relation and the run goes on; up to `engine.concurrency` writes are
in flight at once, their links saved in plan order (core.sync.in_flight).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from core.eboekhouden.limits import relation_problems
from core.sync.job import JobResult, RunContext
from core.model import CrmRelation, EbRelation, MutatieSoort, RelationKind, RelationLink
from core.perfectview.errors import NotInDatabase, PerfectViewError
from core.soap.errors import BudgetExhausted, RequestInvalid, ServiceError, TransportFailure
from core.store.records import utc_now
from core.store.relation_state import RelationState
from core.store.twin_proposals import ProposedTwin, TwinProposals
from core.sync.in_flight import InFlight, Outcome
from core.sync.mapping import (FieldChange, RelationProblem, changes, crm_hash, crm_relation_problems,
                               eboekhouden_hash, merge_into)
from core.sync.relations_plan import (COMPARE_DAYS, CreateInEboekhouden, ImportIntoPerfectView, LinkTwin,
                                      LinkUnchanged, ProposeTwin, RelationBlocked, RelationDisappeared, RelationPlan,
                                      RelationSyncSettings, TwinDecision, UpdateInEboekhouden, compare_slice,
                                      plan_relations, relation_codes_to_read)

KIND = "relation"
# Read a little before the cursor: a clock that runs behind PerfectView's must not lose an
# edit. Reading a relation twice costs nothing, its hash is unchanged.
CURSOR_OVERLAP = timedelta(minutes=10)
COUNTERS = ("created", "updated", "unchanged", "imported", "linked", "proposed", "blocked", "disappeared", "failed")
# Named steps where a crash matters (tests stop the job there; see tests/reliability).
CRASH_POINTS = ("before_add_relation", "after_add_relation", "after_add_relation_link", "before_update_relation",
                "after_update_relation", "after_update_relation_link", "before_perfectview_import",
                "after_perfectview_import", "after_perfectview_import_link")


@dataclass
class NotedProblem:
    """Everything one relation ran into this run (a blocked relation may also have lost its partner)."""

    subject: str
    code: str
    kind: str
    problems: list[RelationProblem]
    story: list[str]  # for the logbook
    details: dict[str, str]


@dataclass
class Snapshot:
    """What one run read, and what it knows of PerfectView beyond that read."""

    started: datetime
    full_pass: bool
    perfectview: list[CrmRelation]
    eboekhouden: list[EbRelation]
    links: list[RelationLink]
    customer_codes: set[str]
    other_debtor_numbers: dict[str, str] = field(default_factory=dict)  # unread PerfectView relations
    # Every e-Boekhouden code -> ID when `eboekhouden` holds only the details the plan needs.
    eboekhouden_index: dict[str, int] | None = None
    compared: list[str] = field(default_factory=list)  # the full pass's slice of unchanged links
    # Made full only to look for twins of new customers: PerfectView is read whole, but it is
    # not the daily pass, so no slice of unchanged links is compared with e-Boekhouden.
    full_for_twins: bool = False
    # Nothing to plan, so e-Boekhouden was not listed at all (RelationRun.nothing_to_compare).
    eboekhouden_unread: bool = False


class RelationsJob:
    """Relations both ways, PerfectView leading (issue 5)."""

    name = "relations"
    kind = KIND
    # The engine checks the register (core.assumptions) first and does not start the job
    # while something it needs is missing from the databases.
    checks_assumptions = True

    def __init__(self, *, cursor_overlap: timedelta = CURSOR_OVERLAP,
                 crash_at: Callable[[str], None] | None = None):
        # Tests set no overlap, so that a modified-since read really is one.
        self.cursor_overlap = cursor_overlap
        self.crash_at = crash_at or (lambda point: None)

    def interval(self, config: Any) -> timedelta:
        return config.schedule.relations

    def enabled(self, config: Any) -> bool:
        return bool(config.relations.import_from_eboekhouden or config.relations.export_to_eboekhouden)

    def run(self, ctx: RunContext) -> JobResult:
        return RelationRun(ctx, self.cursor_overlap, self.crash_at).run()


def sync_settings(config: Any) -> RelationSyncSettings:
    rel = config.relations
    return RelationSyncSettings(export_to_eboekhouden=rel.export_to_eboekhouden,
                                import_from_eboekhouden=rel.import_from_eboekhouden,
                                person_name_format=rel.person_name_format,
                                import_relation_type=rel.import_relation_type,
                                max_change_share=rel.max_change_share)


class RelationRun:
    """One run of the relations job."""

    def __init__(self, ctx: RunContext, cursor_overlap: timedelta = CURSOR_OVERLAP,
                 crash_at: Callable[[str], None] | None = None):
        self.ctx = ctx
        self.cursor_overlap = cursor_overlap
        self.crash_at = crash_at or (lambda point: None)
        self.config = ctx.config.relations
        self.settings = sync_settings(ctx.config)
        self.state = RelationState(ctx.store)
        self.proposals = TwinProposals(ctx.store)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._import_target: tuple[dict[RelationKind, str], str] | NotInDatabase | None = None
        self.noted: dict[str, NotedProblem] = {}  # problem key -> what this run found

    # ------------------------------------------------------------------ read

    def run(self) -> JobResult:
        snapshot = self.read()
        plan = RelationPlan() if snapshot.eboekhouden_unread else self.plan(snapshot)
        pass_name = "full pass" if snapshot.full_pass else "changes only"
        if snapshot.full_pass:
            # Proposals are pvsync's own state, kept in a dry run too: a person decides on
            # them before approving the first run.
            self.proposals.forget_pending(a.code for a in plan.of(ProposeTwin))
        if self.ctx.dry_run:
            for action in plan.of(ProposeTwin):
                self.tell_proposal(action)
            return self.show(plan, snapshot, pass_name)
        if plan.stop is not None:
            return self.stopped(plan)
        if plan.writes():
            # Before anything is written: a run that stops half-way must not leave the digest of a
            # list e-Boekhouden no longer answers with (it could answer with it again after an edit).
            self.state.remember_eboekhouden_list(None)
        complete = self.apply(plan, snapshot)
        if complete and not self.counters["failed"]:
            # Only now: a run that stopped or failed half-way reads the same changes again.
            read = snapshot.perfectview
            self.state.finish_read(snapshot.started, full_pass=snapshot.full_pass,
                                   debtor_numbers={r.id: r.debtor_number.strip() for r in read},
                                   read_ids=[r.id for r in read],
                                   compared_until=snapshot.compared[-1] if snapshot.compared else None)
            self.tell_compared(snapshot)
            self.remember_eboekhouden_list(snapshot)
        counters = {name: count for name, count in self.counters.items() if count}
        return JobResult(counters=counters, failures=self.counters["failed"], complete=complete,
                         summary=f"{pass_name}: " + (", ".join(f"{n} {c}" for n, c in counters.items())
                                                     or "nothing to do"))

    def remember_eboekhouden_list(self, snapshot: Snapshot) -> None:
        """After a complete run: the relation list it read is the one every link was compared with,
        unless the run wrote to e-Boekhouden (the list reads differently now: the next run parses it)."""
        if snapshot.eboekhouden_unread:
            return  # as it was
        wrote = any(self.counters[name] for name in ("created", "updated", "linked"))
        digest = None if wrote else getattr(self.ctx.services.eboekhouden(), "relations_digest", None)
        self.state.remember_eboekhouden_list(digest)

    def plan(self, snapshot: Snapshot) -> RelationPlan:
        return plan_relations(perfectview=snapshot.perfectview, eboekhouden=snapshot.eboekhouden,
                              links=snapshot.links, settings=self.settings, customer_codes=snapshot.customer_codes,
                              full_pass=snapshot.full_pass, force=self.ctx.force, eboekhouden_limits=relation_problems,
                              other_debtor_numbers=set(snapshot.other_debtor_numbers.values()),
                              retired_codes=self.state.retired_codes(), eboekhouden_index=snapshot.eboekhouden_index,
                              twin_decisions={code: TwinDecision(state, pv_id)
                                              for code, (state, pv_id) in self.proposals.decisions().items()})

    def read(self) -> Snapshot:
        pv = self.ctx.services.perfectview()
        eb = self.ctx.services.eboekhouden()
        started = utc_now()
        cursor, last_full = self.state.perfectview_cursor(), self.state.last_full_pass()
        full_pass = (cursor is None or last_full is None
                     or started - last_full >= timedelta(hours=self.config.full_pass_hours))
        if full_pass:
            perfectview = list(pv.relations())
        else:
            perfectview = list(pv.relations(modified_since=cursor - self.cursor_overlap, until=started))
        details_free = getattr(eb, "relation_details_are_free", False)
        links = self.state.links()
        index = None
        if not full_pass and self.nothing_to_compare(perfectview, links):
            # Where the list carries every relation's details (SOAP), an edit made in e-Boekhouden
            # alone is looked for on every run; a list byte for byte as the last run read it has none.
            index = eb.relation_index_if_changed(self.state.eboekhouden_list_digest()) if details_free else None
            if index is None:
                return Snapshot(started, full_pass, [], [], links, set(), eboekhouden_unread=True)
        index = index if index is not None else eb.relation_index()
        snapshot = Snapshot(started, full_pass, perfectview, eb.relations_by_code(index) if details_free else [],
                            links, self.customer_codes(eb, index) if self.config.import_from_eboekhouden else set())
        if not full_pass and self.may_have_twins(snapshot.customer_codes, links):
            full_pass = snapshot.full_pass = snapshot.full_for_twins = True
            snapshot.perfectview = list(pv.relations())
        if not full_pass:
            self.complete_incremental_read(pv, snapshot, index)
        if not details_free:
            self.read_needed_details(eb, snapshot, index)
        return snapshot

    def nothing_to_compare(self, perfectview: list[CrmRelation], links: list[RelationLink]) -> bool:
        """True when an incremental run has nothing to plan unless e-Boekhouden changed: nothing
        changed in PerfectView, nothing is imported, no link waits for its first comparison and no
        relation has a problem that may have gone. Where details cost a call (REST) the relation
        list (a call per 2,000) is then not read at all: a relation deleted in e-Boekhouden, or
        made again there under a new ID, is seen on the daily full pass rather than within the hour."""
        return (not perfectview and not self.config.import_from_eboekhouden and all(link.eb_hash for link in links)
                and not any(problem.kind != "import" for problem in self.state.problems()))

    def read_needed_details(self, eb: Any, snapshot: Snapshot, index: dict[str, int]) -> None:
        """Details of only the e-Boekhouden relations the plan needs (see the module docstring)."""
        if snapshot.full_pass and not snapshot.full_for_twins:
            snapshot.compared = compare_slice((link.code for link in snapshot.links if link.code in index),
                                              self.state.compared_until())
        codes = relation_codes_to_read(perfectview=snapshot.perfectview, links=snapshot.links,
                                       eboekhouden_index=index, settings=self.settings,
                                       customer_codes=snapshot.customer_codes, compare=snapshot.compared,
                                       other_debtor_numbers=set(snapshot.other_debtor_numbers.values()),
                                       retired_codes=self.state.retired_codes())
        snapshot.eboekhouden = eb.relations_by_code(sorted(codes)) if codes else []
        snapshot.eboekhouden_index = index

    def tell_compared(self, snapshot: Snapshot) -> None:
        if snapshot.compared:
            self.ctx.log("INFO", KIND, f"full pass: {len(snapshot.compared)} of {len(snapshot.links)} linked "
                                       "relations compared field by field with e-Boekhouden (each one at least "
                                       f"every {COMPARE_DAYS} full passes); {len(snapshot.eboekhouden)} details "
                                       "read in all, the other links are as pvsync last wrote or read them")

    def may_have_twins(self, customers: set[str], links: list[RelationLink]) -> bool:
        """True when a customer may be imported that no person decided about: its twin can be
        any PerfectView relation without a Debiteurnummer, changed lately or not, so only a
        full read can show it (and a proposal waiting for a person keeps the reads full)."""
        # A customer PerfectView refused to import was looked at on a full pass already: it must
        # not make every later pass full.
        known = ({link.code for link in links} | set(self.state.debtor_numbers().values())
                 | self.state.retired_codes() | {p.code for p in self.state.problems() if p.kind == "import"})
        decided = {code for code, (state, _) in self.proposals.decisions().items() if state != "pending"}
        return bool(customers - known - decided)

    def complete_incremental_read(self, pv: Any, snapshot: Snapshot, index: dict[str, int]) -> None:
        """Add to a modified-since read what it cannot show (see the module docstring)."""
        read = {r.id: r for r in snapshot.perfectview}
        known = {pv_id: number for pv_id, number in self.state.debtor_numbers().items() if pv_id not in read}
        eb_by_code = {r.code: r for r in snapshot.eboekhouden}  # empty where details cost a call each
        wanted = {link.pv_id for link in snapshot.links
                  if link.pv_id not in read and link.code in eb_by_code
                  and eboekhouden_hash(eb_by_code[link.code]) != link.eb_hash}
        # Adopted (no hash yet), or made again in e-Boekhouden under a new ID: compare it now.
        wanted |= {link.pv_id for link in snapshot.links if link.pv_id not in read and link.code in index
                   and (not link.eb_hash or link.eb_id != index[link.code])}
        numbers = {r.debtor_number.strip() for r in read.values() if r.debtor_number.strip()}
        wanted |= {pv_id for pv_id, number in known.items() if number in numbers}
        # A relation with a problem may be fixed elsewhere (the other holder of its number changed).
        wanted |= {p.key for p in self.state.problems() if p.kind != "import" and p.key not in read}
        for pv_id in sorted(wanted):
            try:
                relation = pv.relation(pv_id, with_account_manager=False)
            except PerfectViewError:
                continue  # gone from PerfectView: the next full pass reports it
            if relation is not None:
                snapshot.perfectview.append(relation)
                known.pop(pv_id, None)
        snapshot.other_debtor_numbers = known

    def customer_codes(self, eb: Any, index: dict[str, int]) -> set[str]:
        """The e-Boekhouden codes that count as customers, by `relations.customers`.

        "all": every relation. "with_open_items": relations with a debtor open item.
        "with_sales": those, plus every relation ever seen with a sales booking: one
        GetMutaties per run (its monthly budget), which shows the latest 500 mutations,
        so what it finds is kept for later runs.
        """
        if self.config.customers == "all":
            return set(index)
        codes = {item.relation_code for item in eb.open_items("Debiteuren") if item.relation_code}
        if self.config.customers == "with_open_items":
            return codes
        try:
            sales = {b.relation_code for b in eb.bookings(purpose="other")
                     if b.soort is MutatieSoort.FACTUUR_VERSTUURD and b.relation_code}
        except BudgetExhausted as error:
            self.ctx.log("WARNING", KIND, f"sales bookings not read this run ({error}); customers found before "
                                          "and those with open items are imported")
            sales = set()
        self.state.add_customer_codes(sales - self.state.customer_codes())
        return codes | self.state.customer_codes()

    # ------------------------------------------------------------------ dry run and guards

    def show(self, plan: RelationPlan, snapshot: Snapshot, pass_name: str) -> JobResult:
        """The plan in words, in the logbook (subject = Debiteurnummer) and in the summary."""
        lines = []
        for action in plan.actions:
            if isinstance(action, LinkUnchanged):
                continue
            subject, text = self.describe(action, snapshot)
            self.ctx.log("INFO", KIND, f"plan: {text}", subject=subject)
            lines.append(text)
        unchanged = len(plan.of(LinkUnchanged))
        twins = (f"{len(plan.of(ProposeTwin))} proposed as twins (pvsync relations proposals), "
                 if plan.of(ProposeTwin) else "")
        linking = f"{len(plan.of(LinkTwin))} to link, " if plan.of(LinkTwin) else ""
        head = (f"dry run ({pass_name}), nothing written: {len(plan.of(CreateInEboekhouden))} to create, "
                f"{len(plan.of(UpdateInEboekhouden))} to update, {len(plan.of(ImportIntoPerfectView))} to import, "
                f"{linking}{twins}{len(plan.of(RelationBlocked))} skipped, {unchanged} unchanged")
        if plan.stop is not None:
            self.ctx.log("WARNING", KIND, f"the real run would stop: {plan.stop.reason}")
            lines.append(f"the real run would stop: {plan.stop.reason}")
        elif self.ctx.services is not None:
            self.ctx.services.planned_relations.update(a.code for a in plan.of(CreateInEboekhouden))
        return JobResult(counters={"planned": len(plan.writes())}, summary="\n    ".join([head, *lines]))

    def describe(self, action: Any, snapshot: Snapshot) -> tuple[str, str]:
        """(subject, one line in words) for the plan and the logbook."""
        subject, what = self.what(action, snapshot)
        if isinstance(action, (CreateInEboekhouden, ImportIntoPerfectView, ProposeTwin, LinkTwin)):
            return subject, f"{what}: {action.reason}"
        if isinstance(action, UpdateInEboekhouden):
            return subject, f"{what}: " + "; ".join(change.describe() for change in action.changes)
        if isinstance(action, RelationBlocked):
            return subject, f"{what}: " + "; ".join(str(p) for p in action.problems)
        if isinstance(action, RelationDisappeared):
            return subject, f"{what}: {action.reason}"
        return subject, what

    def what(self, action: Any, snapshot: Snapshot) -> tuple[str, str]:
        """(subject, what the action does in a few words)."""
        if isinstance(action, CreateInEboekhouden):
            return action.code, f"create {action.code} ({action.wanted.bedrijf}) in e-Boekhouden"
        if isinstance(action, UpdateInEboekhouden):
            return action.code, f"update {action.code} ({action.wanted.bedrijf}) in e-Boekhouden"
        if isinstance(action, ImportIntoPerfectView):
            relation = action.relation
            as_type = (self.settings.import_relation_type if relation.kind is RelationKind.ORGANISATION
                       else "a person")
            return action.code, (f"import {action.code} ({relation.name or relation.last_name}) into PerfectView "
                                 f"as {as_type}")
        if isinstance(action, ProposeTwin):
            twins = " or ".join(c.describe() for c in action.candidates)
            return action.code, (f"propose linking {action.code} ({action.relation.bedrijf}) to PerfectView's "
                                 f"{twins} instead of importing it")
        if isinstance(action, LinkTwin):
            return action.code, (f"link {action.code} ({action.name}) to PerfectView relation {action.pv_id}, "
                                 f"filling its Debiteurnummer")
        if isinstance(action, RelationBlocked):
            return self.code_of(action.pv_id, snapshot), f"skip {action.subject}"
        if isinstance(action, RelationDisappeared):
            return action.code, f"report {action.code}"
        return action.code, f"keep {action.code}"

    @staticmethod
    def code_of(pv_id: str, snapshot: Snapshot) -> str:
        return next((r.debtor_number.strip() for r in snapshot.perfectview if r.id == pv_id), "") or pv_id

    def stopped(self, plan: RelationPlan) -> JobResult:
        self.ctx.log("ERROR", KIND, f"relation sync stopped before writing anything: {plan.stop.reason}")
        return JobResult(counters={"stopped": 1}, failures=1, summary=f"stopped: {plan.stop.reason}")

    # ------------------------------------------------------------------ apply

    def apply(self, plan: RelationPlan, snapshot: Snapshot) -> bool:
        """Every action on its own, up to `engine.concurrency` remote writes in flight; each
        action's link and logbook lines follow in plan order on this thread (see
        core.sync.in_flight). False when the run was asked to stop half-way."""
        links = {link.pv_id: link for link in snapshot.links}
        failed: set[str] = set()
        fine: set[str] = set()
        total = len(plan.actions)

        def finisher(action: Any, done: int, complete: Callable[[Any], bool]) -> Callable[[Outcome], None]:
            def finish(outcome: Outcome) -> None:
                key = self.key_of(action)
                try:
                    if complete(outcome()):
                        fine.add(key)
                except (ServiceError, NotInDatabase) as error:
                    self.counters["failed"] += 1
                    failed.add(key)
                    subject, what = self.what(action, snapshot)
                    self.ctx.log("ERROR", KIND, f"{what} failed: {error}. It is tried again in the next run.",
                                 subject=subject)
                finally:
                    self.ctx.progress("relations", done, total)
            return finish

        # Calls may wait queued for a worker: one dropped at a stop is only counted, never sent.
        concurrency = self.ctx.config.engine.concurrency
        with InFlight(concurrency, queued=concurrency) as writes:
            for done, action in enumerate(plan.actions, start=1):
                if self.ctx.should_stop():
                    writes.stop()
                    self.tell_problems()
                    return False
                try:
                    remote, complete = self.steps(action, links.get(getattr(action, "pv_id", "")), snapshot)
                except (ServiceError, NotInDatabase) as error:
                    remote, complete = None, _raising(error)
                writes.start(remote, finisher(action, done, complete),
                             keys=(self.key_of(action), f"code {getattr(action, 'code', '')}"))
        self.tell_problems()
        known = self.state.problem_keys()
        settled = known - set(self.noted) - failed if snapshot.full_pass else (known & fine) - set(self.noted)
        self.state.clear_problems(settled)
        return True

    def steps(self, action: Any, link: RelationLink | None,
              snapshot: Snapshot) -> tuple[Callable[[], Any] | None, Callable[[Any], bool]]:
        """(the remote call, sent from a worker; None when there is none, and what follows it
        here: True when the relation is fine now)."""
        if isinstance(action, CreateInEboekhouden):
            eb = self.ctx.services.eboekhouden()
            self.crash_at("before_add_relation")
            eb.count_ahead("add_relation")  # here, so the worker sends without waiting for the store
            return lambda: self.send_create(eb, action), lambda sent: self.created(action, *sent)
        if isinstance(action, UpdateInEboekhouden):
            eb = self.ctx.services.eboekhouden()
            self.crash_at("before_update_relation")
            eb.count_ahead("update_relation")
            return lambda: eb.update_relation(action.wanted), lambda _: self.updated(action)
        if isinstance(action, ImportIntoPerfectView):
            pv = self.ctx.services.perfectview()
            types, manager = self.import_target(pv)
            self.crash_at("before_perfectview_import")
            return (lambda: self.send_import(pv, action, types[action.relation.kind], manager),
                    lambda sent: self.imported(action, types[action.relation.kind], sent))
        if isinstance(action, LinkTwin):
            pv = self.ctx.services.perfectview()
            eb = self.ctx.services.eboekhouden() if self.config.export_to_eboekhouden else None
            return lambda: self.send_twin_link(pv, eb, action), lambda sent: self.twin_linked(action, sent)
        if isinstance(action, ProposeTwin):
            return None, lambda _: self.proposed(action)
        if isinstance(action, LinkUnchanged):
            return None, lambda _: self.unchanged(action, link)
        if isinstance(action, RelationBlocked):
            return None, lambda _: self.blocked(action, snapshot)
        return None, lambda _: self.disappeared(action)

    def note(self, key: str, *, subject: str, code: str, kind: str, problems: list[RelationProblem],
             story: str, details: dict[str, str]) -> None:
        noted = self.noted.get(key)
        if noted is None:
            self.noted[key] = NotedProblem(subject, code, kind, list(problems), [story], details)
            return
        noted.problems.extend(problems)
        noted.story.append(story)
        if kind == "blocked":
            noted.kind, noted.subject = kind, subject

    def tell_problems(self) -> None:
        """Store this run's problems; a problem is told in the logbook when it is new or changed."""
        for key, noted in self.noted.items():
            if self.state.record_problems(key, subject=noted.subject, code=noted.code, kind=noted.kind,
                                          problems=noted.problems):
                self.ctx.log("WARNING", KIND, "; ".join(noted.story), subject=noted.code, details=noted.details)

    def save_link(self, link: RelationLink) -> None:
        moved_from = self.state.save_link(link)
        if moved_from:
            self.ctx.log("WARNING", KIND, f"{moved_from} is no longer linked: its PerfectView relation now has "
                                          f"Debiteurnummer {link.code}. {moved_from} stays in e-Boekhouden as it is "
                                          "(pvsync deletes nothing) and is not imported back into PerfectView",
                         subject=moved_from, details={"perfectview_id": link.pv_id, "code": link.code})

    @staticmethod
    def key_of(action: Any) -> str:
        if isinstance(action, (ImportIntoPerfectView, ProposeTwin, LinkTwin)):
            return f"e-Boekhouden {action.code}"
        return action.pv_id

    @staticmethod
    def send_create(eb: Any, action: CreateInEboekhouden) -> tuple[int, EbRelation | None, ServiceError | None]:
        """AddRelatie (in a worker): (e-Boekhouden id, the record as stored or None when an
        existing one was adopted, the error that made it adopt)."""
        try:
            return eb.add_relation(action.wanted), action.wanted, None
        except RequestInvalid:
            raise
        except ServiceError as error:
            if isinstance(error, TransportFailure) and not error.maybe_processed:
                raise
            # Maybe processed, or refused because the code exists: never add twice.
            found = eb.relation(action.code)
            if found is None:
                raise
            # An empty hash never matches: the next run compares the adopted record field by field.
            return found.id, None, error

    def created(self, action: CreateInEboekhouden, eb_id: int, stored: EbRelation | None,
                adopted: ServiceError | None) -> bool:
        if adopted is not None:
            self.ctx.log("WARNING", KIND, f"{action.code} was already in e-Boekhouden ({adopted}); linked to that "
                                          "relation, its fields are compared in the next run", subject=action.code)
        self.crash_at("after_add_relation")
        link = RelationLink(action.pv_id, action.code, eb_id, action.pv_hash,
                            eboekhouden_hash(stored) if stored else "")
        with self.ctx.store.write(durable=False):  # the link and its logbook line: one transaction
            self.save_link(link)
            self.ctx.log("INFO", KIND, f"created {action.code} ({action.wanted.bedrijf}) in e-Boekhouden",
                         subject=action.code)
        self.crash_at("after_add_relation_link")
        self.counters["created"] += 1
        return True

    def updated(self, action: UpdateInEboekhouden) -> bool:
        """After UpdateRelatie (read-merge-write: the plan merged into the record as read):
        the link, then one audit line per field."""
        self.crash_at("after_update_relation")
        link = RelationLink(action.pv_id, action.code, action.current.id, action.pv_hash,
                            eboekhouden_hash(action.wanted))
        with self.ctx.store.write(durable=False):
            self.save_link(link)
            for change in action.changes:
                self.ctx.log("INFO", KIND, f"e-Boekhouden {action.code}: PerfectView overwrote {change.describe()}",
                             subject=action.code, details={"field": change.field, "old": change.old,
                                                           "new": change.new, "perfectview_id": action.pv_id})
        self.crash_at("after_update_relation_link")
        self.counters["updated"] += 1
        return True

    def unchanged(self, action: LinkUnchanged, link: RelationLink | None) -> bool:
        wanted = RelationLink(action.pv_id, action.code, action.eb_id, action.pv_hash, action.eb_hash)
        if link != wanted:
            self.save_link(wanted)
        self.counters["unchanged"] += 1
        return True

    def blocked(self, action: RelationBlocked, snapshot: Snapshot) -> bool:
        self.counters["blocked"] += 1
        reasons = "; ".join(str(p) for p in action.problems)
        self.note(action.pv_id, subject=action.subject, code=self.code_of(action.pv_id, snapshot), kind="blocked",
                  problems=list(action.problems), story=f"{action.subject} is not written to e-Boekhouden: {reasons}",
                  details={"perfectview_id": action.pv_id})
        return False

    def disappeared(self, action: RelationDisappeared) -> bool:
        self.counters["disappeared"] += 1
        hint = ("restore the relation or its Debiteurnummer in PerfectView" if action.side == "PerfectView"
                else "restore the relation in e-Boekhouden, or clear the Debiteurnummer in PerfectView")
        self.note(action.pv_id, subject=action.code, code=action.code, kind="disappeared",
                  problems=[RelationProblem("link", action.reason, hint)], story=f"{action.code}: {action.reason}",
                  details={"perfectview_id": action.pv_id, "side": action.side})
        return False

    # ------------------------------------------------------------------ twins (core.sync.twins)

    def proposed(self, action: ProposeTwin) -> bool:
        self.counters["proposed"] += 1
        self.tell_proposal(action)
        return True

    def tell_proposal(self, action: ProposeTwin) -> None:
        """A customer with a twin waits for a person; told in the logbook when new or changed."""
        if self.proposals.propose(action.code, action.relation.bedrijf, _proposed(action)):
            subject, what = self.what(action, None)
            how = (f"pvsync relations accept {action.code}" if len(action.candidates) == 1
                   else f"pvsync relations accept {action.code} --relation ID (one of the {len(action.candidates)})")
            self.ctx.log("WARNING", KIND, f"{what}: {action.reason}. Accept with `{how}`, or `pvsync relations "
                                          f"reject {action.code}` to import it as a new relation", subject=subject,
                         details={"candidates": [c.pv_id for c in action.candidates]})

    def send_twin_link(self, pv: Any, eb: Any,
                       action: LinkTwin) -> tuple[CrmRelation, EbRelation, list[FieldChange]] | str:
        """(In a worker) fill the Debiteurnummer of the accepted twin (read fresh: someone may
        have changed it since the proposal), then, with export on, let PerfectView's fields win
        in e-Boekhouden as for every link, so the next run finds both in step. Returns the
        relation, the e-Boekhouden record as it is now and what changed there; or why not."""
        current = pv.relation(action.pv_id, with_account_manager=False)
        if current is None:
            return f"PerfectView relation {action.pv_id} is gone"
        number = current.debtor_number.strip()
        if number and number != action.code:
            return f"PerfectView relation {action.pv_id} has Debiteurnummer {number} by now"
        linked = replace(current, debtor_number=action.code)
        if number != action.code:
            pv.update_relation(action.pv_id, linked)
        fmt = self.settings.person_name_format
        wanted = merge_into(action.current, linked, fmt)
        if eb is None or crm_relation_problems(linked, fmt) or relation_problems(wanted):
            return linked, action.current, []  # a problem is reported by the next run's export plan
        diff = changes(action.current, wanted, linked.kind)
        if diff:
            eb.update_relation(wanted)
        return linked, (wanted if diff else action.current), diff

    def twin_linked(self, action: LinkTwin,
                    sent: tuple[CrmRelation, EbRelation, list[FieldChange]] | str) -> bool:
        if isinstance(sent, str):
            self.counters["blocked"] += 1
            problem = RelationProblem("link", f"the accepted link of {action.code} to its PerfectView twin was not "
                                              f"made: {sent}", f"decide again: pvsync relations reject {action.code}, "
                                                               "or fill the Debiteurnummer in PerfectView yourself")
            self.note(self.key_of(action), subject=f"{action.code} ({action.name})", code=action.code, kind="import",
                      problems=[problem], story=problem.message, details={"perfectview_id": action.pv_id})
            return False
        linked, written, diff = sent
        with self.ctx.store.write():
            self.save_link(RelationLink(linked.id, action.code, action.current.id,
                                        crm_hash(linked, self.settings.person_name_format), eboekhouden_hash(written)))
            self.state.remember_debtor_number(linked.id, action.code)
            self.ctx.log("INFO", KIND, f"linked {action.code} ({action.name}) to its PerfectView twin {linked.id}: "
                                       f"its Debiteurnummer is {action.code} now (no second relation created)",
                         subject=action.code)
            for change in diff:
                self.ctx.log("INFO", KIND, f"e-Boekhouden {action.code}: PerfectView overwrote {change.describe()}",
                             subject=action.code, details={"field": change.field, "old": change.old,
                                                           "new": change.new, "perfectview_id": linked.id})
        self.counters["linked"] += 1
        return True

    # ------------------------------------------------------------------ import into PerfectView

    @staticmethod
    def send_import(pv: Any, action: ImportIntoPerfectView, relation_type: str,
                    manager: str) -> str | PerfectViewError | NotInDatabase:
        """RelationCreate (in a worker): the new relation's id, or PerfectView's refusal."""
        try:
            return pv.create_relation(action.relation, relation_type, manager or None)
        except (PerfectViewError, NotInDatabase) as refusal:  # refused, or e.g. a country it does not know
            return refusal
        except TransportFailure as error:
            if not error.maybe_processed:
                raise
            found = pv.relations_by_debtor_number(action.code)
            if len(found) != 1:
                raise
            return found[0].id

    def imported(self, action: ImportIntoPerfectView, relation_type: str,
                 sent: str | PerfectViewError | NotInDatabase) -> bool:
        """False when PerfectView refused the record (then it is listed as a problem)."""
        relation = action.relation
        if not isinstance(sent, str):
            self.counters["blocked"] += 1
            problem = RelationProblem("import", f"PerfectView refused {action.code}: {sent}",
                                      "correct the relation in e-Boekhouden; pvsync never shortens a value")
            self.note(self.key_of(action), subject=f"{action.code} ({relation.name or relation.last_name})",
                      code=action.code, kind="import", problems=[problem],
                      story=f"{action.code} is not imported into PerfectView: {sent}", details={})
            return False
        created = replace(relation, id=sent)
        self.crash_at("after_perfectview_import")
        with self.ctx.store.write(durable=False):
            self.save_link(RelationLink(sent, action.code, action.eb_id,
                                        crm_hash(created, self.settings.person_name_format), action.eb_hash))
            self.state.remember_debtor_number(sent, action.code)
            self.ctx.log("INFO", KIND, f"imported {action.code} ({relation.name or relation.last_name}) into "
                                       f"PerfectView as {relation_type}", subject=action.code)
        self.crash_at("after_perfectview_import_link")
        self.counters["imported"] += 1
        return True

    def import_target(self, pv: Any) -> tuple[dict[RelationKind, str], str]:
        """The relation type per kind and the relatiebeheerder's user id, resolved by name once a run.

        The configured type (Klant, Prospect, ...) is an organisation type; a person goes to
        the person type of that name, or to the database's one person type.
        """
        if self._import_target is None:
            try:
                configured = self.settings.import_relation_type
                types = {RelationKind.ORGANISATION: _type_name(pv, configured, RelationKind.ORGANISATION)}
                person_types = [t.name for t in pv.relation_types(RelationKind.PERSON)]
                same = [name for name in person_types if name.casefold() == configured.casefold()]
                if not same and len(person_types) != 1:
                    raise NotInDatabase("person relation type", configured, person_types)
                types[RelationKind.PERSON] = (same or person_types)[0]
                manager = pv.user_id(self.config.account_manager) if self.config.account_manager else ""
                self._import_target = (types, manager)
            except NotInDatabase as error:
                self.ctx.log("ERROR", "config", f"relations are not imported into PerfectView: {error}")
                self._import_target = error
        if isinstance(self._import_target, NotInDatabase):
            raise self._import_target
        return self._import_target


def _proposed(action: ProposeTwin) -> list[ProposedTwin]:
    return [ProposedTwin(c.pv_id, c.name, c.evidence) for c in action.candidates]


def _raising(error: Exception) -> Callable[[Any], bool]:
    """An action that failed before anything was sent, finished in its turn like the others."""
    def fail(_: Any) -> bool:
        raise error
    return fail


def _type_name(pv: Any, name: str, kind: RelationKind) -> str:
    pv.relation_type_id(name, kind)  # raises NotInDatabase naming the types that exist
    return name
