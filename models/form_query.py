"""The SQL a form's ``count`` specs compile to: one aggregate query per record table.

``models/form_sql.py`` calls ``compile_form`` once per form version (cached) and runs
each ``SourceQuery`` with the period's window and the subtree's root path. A query:

1. ``m``: every unit of the subtree with the direct child of the root whose subtree
   holds it (the path segment after the root's path; ``''`` for the root itself), so
   the roll-up is one ``GROUP BY`` with no join on path prefixes per record;
2. ``b``: the final records of the table held by those units, with the attributes the
   form's filters name (derived ones such as the scope of a petition, its state as of
   the period's end or its case's history read from ``petition_events`` by
   ``effective_on``, never from today's state);
3. ``k``: one row per holding unit and case, with every column's partial figure
   (``FILTER`` aggregates: rows, sums, whether the case was selected, and for
   ``case_by`` whether the case's representative (earliest date, lowest id) passes);
4. the outer ``GROUP BY child``: one row per child, every column at once.

Distinct cases are counted per holding unit and added up the tree, like the reports
the units submit: a commune's figure is its own cases, a province's the sum of its
units' figures, so the total row is always the sum of the rows.

Readings of the derived attributes (README "Filters"), all as of the window's end ``E``:
handled = first event into a state other than received/classified; accepted, resolved =
first event into that state; ``state`` = ``to_state`` of the last event dated <= E
(received when there is none); ``outcome``, ``decision``, ``court_judgment``, ``on_time``
only for a petition resolved by E (``on_time``: resolved on or before ``due_on``, null
without one); ``urged``/``reply_received``: an ``urge``/``reply_received`` event dated
<= E; ``case_new``: no final reception or petition of the case dated before the window;
``case_resolution`` of a record dated D: the case's other final petitions resolved
before D (1, 2+), else one accepted before D and not resolved before D; ``case_result``:
over the case's final petitions resolved by E, court judgment, then a decision number,
then resolved at all. Every unit holding a case's records shares these case facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.form_compute import Count, FilterValue, NotIn, values_of
from models.forms import FormVersion
from models.handling import AMOUNTS, COUNTS

# A petition is handled by its first transition out of these states.
HANDLED_STATES_EXCLUDED = ("received", "classified")
# Action names of the events that are not transitions (models/workflow.py).
URGE_ACTION = "urge"
REPLY_ACTION = "reply_received"


# The numeric fields a ``sum`` adds, as SQL over the joined tables (null adds nothing).
SUM_SQL: dict[str, str] = {
    "people": "r.people",
    "signatories": "p.signatories",
    **{name: f"h.{name}" for name in (*AMOUNTS, *COUNTS)},
}

# Events of one petition summarised: when it was first handled, accepted, resolved.
# Only constants of this module go into the SQL text; values are bound parameters.
_EVENTS = f"""LEFT JOIN LATERAL (
    SELECT min(e.effective_on) FILTER (WHERE e.to_state NOT IN {HANDLED_STATES_EXCLUDED!r}) AS handled_on,
           min(e.effective_on) FILTER (WHERE e.to_state = 'accepted') AS accepted_on,
           min(e.effective_on) FILTER (WHERE e.to_state = 'resolved') AS resolved_on,
           coalesce(bool_or(e.action = '{URGE_ACTION}' AND e.effective_on <= :end), false) AS urged,
           coalesce(bool_or(e.action = '{REPLY_ACTION}' AND e.effective_on <= :end), false) AS replied,
           (array_agg(e.to_state ORDER BY e.effective_on DESC, e.id DESC) FILTER (WHERE e.effective_on <= :end))[1]
               AS state_at_end
    FROM petition_events e WHERE e.petition_id = p.id) ev ON true"""  # noqa: S608

_STATE_AT_END = "coalesce(ev.state_at_end, 'received')"

_COURT = "h.court_judgment"
_RESOLVED_BY_END = "(ev.resolved_on <= :end)"

# Case-level facts, for a record of case ``{case}`` dated ``{day}`` (``{self}``: its own petition id).
_CASE_NEW = """(NOT EXISTS (SELECT 1 FROM receptions r2
        WHERE r2.case_id = {case} AND r2.status = 'final' AND r2.received_on < :start)
    AND NOT EXISTS (SELECT 1 FROM petitions p2
        WHERE p2.case_id = {case} AND p2.status = 'final' AND p2.received_on < :start))"""

_CASE_PETITIONS = """SELECT p2.id, pe.accepted_on, pe.resolved_on, h2.decision_number, {court} AS court
    FROM petitions p2
    LEFT JOIN petition_handling h2 ON h2.petition_id = p2.id
    CROSS JOIN LATERAL (
        SELECT min(e2.effective_on) FILTER (WHERE e2.to_state = 'accepted') AS accepted_on,
               min(e2.effective_on) FILTER (WHERE e2.to_state = 'resolved') AS resolved_on
        FROM petition_events e2 WHERE e2.petition_id = p2.id) pe
    WHERE p2.case_id = {case} AND p2.status = 'final'"""

_CASE_HISTORY = """LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE c.resolved_on < {day}) AS resolved,
           coalesce(bool_or(c.accepted_on < {day} AND (c.resolved_on IS NULL OR c.resolved_on >= {day})), false)
               AS being
    FROM ({petitions}) c WHERE c.id IS DISTINCT FROM {self}) ch ON true"""

_CASE_RESULT = """LEFT JOIN LATERAL (
    SELECT CASE WHEN coalesce(bool_or(c.court AND c.resolved_on <= :end), false) THEN 'court_judgment'
                WHEN coalesce(bool_or(c.decision_number IS NOT NULL AND c.resolved_on <= :end), false)
                    THEN 'resolved_by_decision'
                WHEN coalesce(bool_or(c.resolved_on <= :end), false) THEN 'resolved_without_decision'
                ELSE 'unresolved' END AS result
    FROM ({petitions}) c) cr ON true"""

_CASE_RESOLUTION_VALUE = """CASE WHEN ch.resolved >= 2 THEN 'resolved_several'
    WHEN ch.resolved = 1 THEN 'resolved_once'
    WHEN ch.being THEN 'being_resolved' ELSE 'not_resolved' END"""


@dataclass(frozen=True)
class Table:
    """One record table: its alias, the date a record counts on, and its attributes as SQL."""

    name: str
    alias: str
    day: str
    case: str | None
    attributes: dict[str, str]
    joins: dict[str, str]  # attribute -> the join it needs (a key of JOINS)


def _case_attributes(case: str, day: str, own: str) -> tuple[dict[str, str], dict[str, str]]:
    petitions = _CASE_PETITIONS.format(case=case, court=_COURT.replace("h.", "h2."))
    attributes = {
        "case_new": _CASE_NEW.format(case=case),
        "case_resolution": _CASE_RESOLUTION_VALUE,
        "case_result": "cr.result",
    }
    joins = {
        "case_resolution": _CASE_HISTORY.format(day=day, petitions=petitions, self=own),
        "case_result": _CASE_RESULT.format(petitions=petitions),
    }
    return attributes, joins


def _tables() -> dict[str, Table]:
    r_case, r_joins = _case_attributes("r.case_id", "r.received_on", "NULL::bigint")
    p_case, p_joins = _case_attributes("p.case_id", "p.received_on", "p.id")
    receptions = Table(
        "receptions",
        "r",
        "r.received_on",
        "r.case_id",
        {
            "kind": "r.kind",
            "crowd_group": "r.crowd_group",
            "content_type": "r.content_type",
            "field": "r.field",
            "people": SUM_SQL["people"],
            **r_case,
        },
        r_joins,
    )
    sessions = Table(
        "reception_sessions",
        "s",
        "s.held_on",
        None,
        {
            "kind": "s.kind",
            "attended": "EXISTS (SELECT 1 FROM receptions r3 WHERE r3.session_id = s.id AND r3.status = 'final')",
        },
        {},
    )
    petition_attributes = {
        "source": "p.source",
        "via_reception": "(p.reception_id IS NOT NULL)",
        "multi_signatory": "p.multi_signatory",
        "anonymous": "p.anonymous",
        "content_type": "p.content_type",
        "field": "p.field",
        "eligible": "p.eligible",
        "within_competence": "p.within_competence",
        "state": _STATE_AT_END,
        "urged": "ev.urged",
        "reply_received": "ev.replied",
        "outcome": f"CASE WHEN {_RESOLVED_BY_END} THEN h.outcome END",
        "resolution_round": "h.resolution_round",
        "decision": f"coalesce({_RESOLVED_BY_END} AND h.decision_number IS NOT NULL, false)",
        "court_judgment": f"coalesce({_RESOLVED_BY_END} AND {_COURT}, false)",
        "on_time": f"CASE WHEN {_RESOLVED_BY_END} AND h.due_on IS NOT NULL THEN ev.resolved_on <= h.due_on END",
        **{name: f"coalesce({sql}, 0)" for name, sql in SUM_SQL.items() if name != "people"},
        **p_case,
    }
    petitions = Table("petitions", "p", "p.received_on", "p.case_id", petition_attributes, p_joins)
    return {t.name: t for t in (receptions, sessions, petitions)}


TABLES = _tables()

# Petition scopes per stage: the stage's entry day and completion day, from the events.
_STAGE_DAYS = {"handling": ("p.received_on", "ev.handled_on"), "resolution": ("ev.accepted_on", "ev.resolved_on")}


def scope_sql(source: str, scope: str, stage: str | None) -> str:
    """SQL condition: the record is in ``scope`` of ``stage`` for the window [:start, :end]."""
    if source != "petitions":
        day = TABLES[source].day
        return f"({day} BETWEEN :start AND :end)"
    entered, done = _STAGE_DAYS[stage or "handling"]
    in_period = f"({entered} BETWEEN :start AND :end)"
    carried = f"({entered} < :start AND ({done} IS NULL OR {done} >= :start))"
    to_handle = f"({in_period} OR {carried})"
    return {
        "in_period": in_period,
        "carried_over": carried,
        "to_handle": to_handle,
        "completed": f"({to_handle} AND {done} BETWEEN :start AND :end)",
        "pending_at_end": f"({to_handle} AND ({done} IS NULL OR {done} > :end))",
    }[scope]


@dataclass
class Binds:
    """Bound values of one query, named ``v0``, ``v1`` ... (no value is ever spliced into SQL)."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        name = f"v{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def filter_sql(column: str, wanted: FilterValue, binds: Binds) -> str:
    """``column`` matches ``wanted``; ``{"not": ...}`` is true for null (IS DISTINCT FROM semantics)."""
    values = values_of(wanted)
    parts = [f"{column} IS NULL" for v in values if v is None]
    known = [v for v in values if v is not None]
    if known:
        parts.append(f"{column} IN ({', '.join(binds.add(v) for v in known)})")
    positive = "(" + " OR ".join(parts) + ")"
    return f"(NOT coalesce({positive}, false))" if isinstance(wanted, NotIn) else f"coalesce({positive}, false)"


def _where_sql(conditions: dict[str, FilterValue], binds: Binds) -> list[str]:
    return [filter_sql(f"b.a_{key}", value, binds) for key, value in conditions.items()]


# ``m`` of a subtree: every unit under the root (``:root_like``) with its direct child of
# the root (the path segment after the root's ``:root_length`` characters).
BY_CHILD = """SELECT id AS unit_id, split_part(substr(path, :root_length + 1), '/', 1) AS child
    FROM units WHERE path LIKE :root_like ESCAPE '\\'"""
# ``m`` of a list of units (``:units``), each its own row: the figures per holding unit.
BY_UNIT = "SELECT id AS unit_id, id::text AS child FROM units WHERE id = ANY(CAST(:units AS bigint[]))"


@dataclass(frozen=True)
class SourceQuery:
    """One table's query: returns ``child`` then ``c0``, ``c1`` ... one per key of ``keys``.

    ``body`` follows the units CTE ``m``: ``sql`` groups by the root's direct children,
    ``sql_by_unit`` by each unit of ``:units`` (``models/form_cache.py``).
    """

    source: str
    body: str
    binds: dict[str, Any]
    keys: tuple[str, ...]

    @property
    def sql(self) -> str:
        return f"WITH m AS ({BY_CHILD}),\n{self.body}"

    @property
    def sql_by_unit(self) -> str:
        return f"WITH m AS ({BY_UNIT}),\n{self.body}"


def compile_source(source: str, counts: dict[str, Count]) -> SourceQuery:
    """The query of every count spec over one record table (``counts``: key -> spec)."""
    table = TABLES[source]
    binds = Binds()
    used: set[str] = set()
    for spec in counts.values():
        used |= set(spec.where) | set(spec.case_by)
        if spec.of:
            used.add(spec.of)
    scopes = {(spec.scope, spec.stage) for spec in counts.values()}
    scope_columns: dict[tuple[str, str | None], str] = {
        pair: f"s_{i}" for i, pair in enumerate(sorted(scopes, key=str))
    }
    inner: list[str] = []
    outer: list[str] = []
    for i, spec in enumerate(counts.values()):
        selected = " AND ".join([f"b.{scope_columns[(spec.scope, spec.stage)]}", *_where_sql(spec.where, binds)])
        inner_sql, outer_sql = _measure_sql(spec, selected, f"c{i}", table, binds)
        inner.append(inner_sql)
        outer.append(outer_sql)
    body = _assemble(table, sorted(used), scope_columns, inner, outer)
    return SourceQuery(source, body, binds.values, tuple(counts))


def _measure_sql(spec: Count, selected: str, name: str, table: Table, binds: Binds) -> tuple[str, str]:
    if spec.measure == "rows":
        return f"count(*) FILTER (WHERE {selected}) AS {name}", f"coalesce(sum(k.{name}), 0) AS {name}"
    if spec.measure == "sum":
        return f"sum(b.a_{spec.of}) FILTER (WHERE {selected}) AS {name}", f"coalesce(sum(k.{name}), 0) AS {name}"
    if not spec.case_by:
        return f"bool_or({selected}) AS {name}", f"count(*) FILTER (WHERE k.{name}) AS {name}"
    # The case's representative: its first selected record by (date, id); min() over
    # [days, id, passes] picks it in any aggregate strategy, no per-group sort.
    passes = " AND ".join(_where_sql(spec.case_by, binds))
    key = f"ARRAY[(b.rec_day - DATE '1900-01-01')::bigint, b.id::bigint, (coalesce({passes}, false))::int::bigint]"
    return f"(min({key}) FILTER (WHERE {selected}))[3] = 1 AS {name}", f"count(*) FILTER (WHERE k.{name}) AS {name}"


# A cheap test that a petition may be in a stage's scope, before its events are read:
# petition_handling's write-once copies of the history (migration 0005: handled_on,
# accepted_on, resolved_on) rule out what was through the stage before the window, and a
# state that never follows acceptance rules out the resolution stage. Null (a copy not
# filled) rules out nothing: the events decide. Only the events give the figures.
_NEVER_ACCEPTED = "('received', 'classified', 'guided', 'forwarded', 'returned', 'filed_away')"
_MAYBE = {
    "handling": "p.received_on >= :start OR hc.handled_on IS NULL OR hc.handled_on >= :start",
    "resolution": f"NOT coalesce(hc.state IN {_NEVER_ACCEPTED} OR hc.accepted_on > :end OR hc.resolved_on < :start,"
    " false)",
}


def _assemble(
    table: Table, used: list[str], scopes: dict[tuple[str, str | None], str], inner: list[str], outer: list[str]
) -> str:
    """Two steps: ``sel`` picks the records some column's scope selects (cheap facts only, and
    MATERIALIZED so the filter runs first), ``b`` adds the filters' attributes to those rows
    only (a case's history costs a lookup per row: never for the records no scope selects).
    """
    a = table.alias
    scope_exprs = {name: scope_sql(table.name, scope, stage) for (scope, stage), name in scopes.items()}
    picked = [f"{expr} AS {name}" for name, expr in scope_exprs.items()]
    facts = ""
    maybe = "true"
    if table.name == "petitions":
        facts = "LEFT JOIN petition_handling hc ON hc.petition_id = p.id\n    " + _EVENTS
        maybe = " OR ".join(f"({_MAYBE[stage or 'handling']})" for _, stage in scopes)
        picked += [
            f"ev.{fact}" for fact in ("handled_on", "accepted_on", "resolved_on", "urged", "replied", "state_at_end")
        ]
    columns = [f"ev.{name}" for name in scope_exprs] + [f"{table.attributes[attr]} AS a_{attr}" for attr in used]
    # The record itself travels in ``sel`` (``rec``): no second lookup of the table.
    joins = [f"CROSS JOIN LATERAL (SELECT (ev.rec).*) {a}"]
    if table.name == "petitions":
        joins.append("LEFT JOIN petition_handling h ON h.petition_id = p.id")
    joins += [table.joins[attr] for attr in used if attr in table.joins]
    # Petitions received by the end may be in some stage's scope; receptions and sessions
    # only in the window.
    window = f"{table.day} <= :end" if table.name == "petitions" else f"{table.day} BETWEEN :start AND :end"
    case = table.case or "NULL::bigint"
    any_scope = " OR ".join(f"({expr})" for expr in scope_exprs.values())
    lf = "\n"
    # Identifiers and SQL fragments of this module only; every value is a bound parameter.
    return f"""sel AS MATERIALIZED (
    SELECT {a}.id, {a}.unit_id, m.child, {case} AS case_id, {table.day} AS rec_day, {a} AS rec,
           {", ".join(picked)}
    FROM {table.name} {a}
    JOIN m ON m.unit_id = {a}.unit_id
    {facts}
    WHERE {a}.status = 'final' AND {window} AND ({maybe}) AND ({any_scope})),
b AS MATERIALIZED (
    SELECT ev.id, ev.unit_id, ev.child, ev.case_id, ev.rec_day,
           {("," + lf + "           ").join(columns)}
    FROM sel ev
    {(lf + "    ").join(joins)}),
k AS (
    SELECT b.child, {", ".join(inner)}
    FROM b
    GROUP BY b.child, b.unit_id, coalesce(b.case_id, -b.id))
SELECT k.child, {", ".join(outer)}
FROM k GROUP BY k.child"""  # noqa: S608


def counts_by_source(form: FormVersion) -> dict[str, dict[str, Count]]:
    """Every count spec of the form (columns and note lines), keyed ``"12"`` or ``"30.n0"``, per table."""
    by_source: dict[str, dict[str, Count]] = {}
    for column in form.columns:
        compute = column.compute
        if compute.count:
            by_source.setdefault(compute.count.from_, {})[str(column.number)] = compute.count
        for i, line in enumerate(compute.notes.lines if compute.notes else ()):
            by_source.setdefault(line.count.from_, {})[f"{column.number}.n{i}"] = line.count
    return by_source
