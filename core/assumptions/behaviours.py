"""Service behaviours pvsync relies on that the reference notes mark [inferred].

None of them can be checked without writing to a customer's administration, so `pvsync
check` names each one with what pvsync does to stay safe if the real service answers
otherwise. They are part of the register, not of the exit code.
"""

from __future__ import annotations

from core.assumptions.findings import UNVERIFIED, Finding

# (key, service, the behaviour, what pvsync does about it, jobs)
BEHAVIOURS = (
    ("eboekhouden.invoice_number_unique", "e-Boekhouden",
     "A second FactuurVerstuurd with the same relation and Factuurnummer is refused",
     "pvsync looks the invoice number up (GetMutaties) before every booking and after an unclear answer, so it "
     "never relies on the refusal to book once", ("invoices",)),
    ("eboekhouden.open_items", "e-Boekhouden",
     "A Factuurbetaling with the invoice's Factuurnummer settles its open item",
     "an invoice is marked paid only when its open item is gone and the payments found cover it in full",
     ("payments",)),
    ("eboekhouden.update_relation_whole", "e-Boekhouden",
     "UpdateRelatie clears a field that is left out", "pvsync always sends every field of a relation",
     ("relations",)),
    ("eboekhouden.missing_value_types", "e-Boekhouden",
     "A value-type element left out of a request counts as 0 or MinValue (ASMX)",
     "pvsync fills every value-type element it sends, so nothing it means is left to a default",
     ("relations", "invoices", "payments")),
    ("perfectview.account_manager_id", "PerfectView",
     "A relationship's AccountManagerId is the relatiebeheerder (a user's Id)",
     "read only when a relation is imported with relations.account_manager set", ("relations",)),
    ("perfectview.search_contains", "PerfectView",
     "RelationSearchByField matches values that contain the one asked for",
     "pvsync keeps only exact matches of a Debiteurnummer", ("relations", "invoices")),
    ("perfectview.modified_all_relations", "PerfectView",
     "RelationGetActivitiesModified_V2 with a nil relationId answers for all relations",
     "a full pass over every invoice of the workflow runs daily and catches what it misses",
     ("invoices",)),
)


def check() -> list[Finding]:
    return [Finding(key, service, what, UNVERIFIED, guard, jobs=jobs)
            for key, service, what, guard, jobs in BEHAVIOURS]
