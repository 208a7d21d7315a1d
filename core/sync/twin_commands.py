"""What people do with proposed twins: list them, accept one (naming the PerfectView relation
when there are several), or reject it. Shared by `pvsync relations …`, the console and the
engine's `relation_twin` request, so each says the same thing in the same words.
"""

from __future__ import annotations

from core import clock
from core.store import Store
from core.store.relation_state import RelationState
from core.store.twin_proposals import TwinProposal, TwinProposals


class TwinCommandError(Exception):
    """The decision cannot be taken as asked; the message says why and what to do."""


def proposal_lines(proposal: TwinProposal) -> list[str]:
    """One proposal in words: the e-Boekhouden relation, then each candidate with its evidence."""
    if proposal.state == "pending":
        state = "waits for you"
    else:
        chosen = proposal.chosen()
        what = f"accepted ({chosen.name if chosen else proposal.chosen_pv_id})" if proposal.state == "accepted" \
            else "rejected (imported as a new relation)"
        state = f"{what} by {proposal.decided_by} at {clock.shown(proposal.decided_at)}"
    lines = [f"{proposal.code} ({proposal.name}): {state}"]
    lines += [f"  {c.pv_id}  {c.describe()}" for c in proposal.candidates]
    return lines


def list_proposals(store: Store, *, everything: bool = False) -> list[str]:
    proposals = TwinProposals(store).all(None if everything else "pending")
    if not proposals:
        return ["No proposed twins" + ("." if everything else " wait for a decision.")]
    return [line for proposal in proposals for line in proposal_lines(proposal)]


def _undecided(store: Store, code: str) -> TwinProposal:
    """The proposal for `code` while a decision can still change what the next run does."""
    proposal = TwinProposals(store).get(code)
    if proposal is None:
        raise TwinCommandError(f"no twin was proposed for {code.strip()}; `pvsync relations proposals` lists those "
                               "that were")
    # An accepted link that could not be made (the twin took another Debiteurnummer) may be decided again.
    linked = {link.code for link in RelationState(store).links()}
    if proposal.state == "rejected" or (proposal.state == "accepted" and proposal.code in linked):
        raise TwinCommandError(f"the proposal for {proposal.code} was {proposal.state} already by "
                               f"{proposal.decided_by}; a decision is kept (the relation may be linked or imported "
                               "by now)")
    return proposal


def accept_twin(store: Store, code: str, *, by: str, pv_id: str = "") -> str:
    """Accept the proposal for `code`: the next run fills the Debiteurnummer of the chosen
    PerfectView relation and links it. `pv_id` is needed when there are several candidates."""
    proposal = _undecided(store, code)
    ids = [c.pv_id for c in proposal.candidates]
    wanted = pv_id.strip().lower()
    if not wanted:
        if len(ids) > 1:
            raise TwinCommandError(f"{proposal.code} has {len(ids)} candidate twins in PerfectView; name one with "
                                   f"--relation: " + "; ".join(c.describe() + f" = {c.pv_id}"
                                                               for c in proposal.candidates))
        wanted = ids[0]
    if wanted not in ids:
        raise TwinCommandError(f"{pv_id} is not one of the candidates for {proposal.code}: {', '.join(ids)}")
    TwinProposals(store).decide(proposal.code, "accepted", by=by, pv_id=wanted)
    name = next(c.name for c in proposal.candidates if c.pv_id == wanted)
    store.log("INFO", "relation", f"{by} accepted {proposal.code} ({proposal.name}) as the twin of PerfectView's "
                                  f"{name}: the next run fills its Debiteurnummer and links it", subject=proposal.code)
    return (f"{proposal.code} ({proposal.name}) is linked to PerfectView's {name} in the next run (its "
            f"Debiteurnummer becomes {proposal.code}; from then on PerfectView's data wins, as for every link)")


def reject_twin(store: Store, code: str, *, by: str) -> str:
    """Reject the proposal for `code`: the next run imports it as a new PerfectView relation."""
    proposal = _undecided(store, code)
    TwinProposals(store).decide(proposal.code, "rejected", by=by)
    store.log("INFO", "relation", f"{by} rejected the proposed twin(s) of {proposal.code} ({proposal.name}): the "
                                  "next run imports it as a new PerfectView relation", subject=proposal.code)
    return f"{proposal.code} ({proposal.name}) is imported into PerfectView as a new relation in the next run"


def answer_twin_request(store: Store, payload: dict) -> tuple[str, str]:
    """The engine's handler for a `relation_twin` request ({"code", "decision": "accept"|"reject",
    "relation": PerfectView id or "", "by"}): records the decision and asks for a relations run,
    so it happens now, not in four hours."""
    code, by = str(payload.get("code", "")), str(payload.get("by") or "unknown")
    try:
        if payload.get("decision") == "accept":
            message = accept_twin(store, code, by=by, pv_id=str(payload.get("relation") or ""))
        elif payload.get("decision") == "reject":
            message = reject_twin(store, code, by=by)
        else:
            raise TwinCommandError(f"a twin is accepted or rejected, not {payload.get('decision')!r}")
    except TwinCommandError as error:
        return "failed", str(error)
    store.add_request("sync", {"only": ["relations"]})
    return "ok", message
