"""Generating a large call history inside ClickHouse for the reporting
benchmark (``hotline bench reporting``): ``INSERT ... SELECT FROM numbers(N)``
statements, so ten million calls never pass through Python.

The history is realistic in shape, not a simulation: calls arrive evenly
over ``days`` days ending now; each call picks a queue, a DNIS and (when
answered) an agent from hashes of its number; dispositions are 85 %
answered, 8 % abandoned, 3 % overflowed, 1.5 % callbacks, the rest failed;
queue waits are 0-120 s, talk 30-600 s, one call in ten has 30 s of hold,
wrap-up is 5-60 s. Every answered call has its ON_CALL -> WRAP_UP -> READY
agent events and every call its queue events, so the roll-ups and the
real-time queries have the raw rows they read. Agents may overlap calls
(nothing schedules them): fine for timing queries, not for judging figures.

The SQL runs on ClickHouse 18.16 and chdb 26.x alike.
"""
from __future__ import annotations

import dataclasses

from hotline.reporting import sql
from hotline.reporting.store import ReportStore

US = 1_000_000


@dataclasses.dataclass(frozen=True)
class History:
    calls: int
    end_us: int              # the newest call's enqueue time (now)
    days: int = 30
    queues: int = 200
    agents: int = 5000
    dnis_count: int = 20
    skills: int = 20
    tag: str = "bench"       # call UUIDs are "<tag>-<n>": a second history needs its own tag

    @property
    def start_us(self) -> int:
        return self.end_us - self.days * 86_400 * US

    def __post_init__(self) -> None:
        if self.calls < 1 or self.days < 1 or self.queues < 1 or self.agents < 1:
            raise ValueError("calls, days, queues and agents must be at least 1")


# Per-call expressions over `number` (the call's index). intHash32 of
# different affine maps of the number keeps the choices independent.
def _exprs(h: History) -> dict[str, str]:
    # µs between calls, computed here: number * span would overflow 64 bits
    # inside ClickHouse for millions of calls.
    step = (h.end_us - h.start_us) // h.calls
    e: dict[str, str] = {}
    e["q"] = "intHash32(number) % {}".format(h.queues)
    e["r"] = "intHash32(number * 13 + 7) % 1000"
    e["disp"] = ("multiIf({r} < 850, 'DISPOSITION_ANSWERED', {r} < 930, 'DISPOSITION_ABANDONED', "
                 "{r} < 960, 'DISPOSITION_OVERFLOWED', {r} < 975, 'DISPOSITION_CALLBACK', "
                 "'DISPOSITION_FAILED')").format(r=e["r"])
    e["answered"] = "({r} < 850)".format(r=e["r"])
    e["enq"] = f"toInt64({h.start_us} + number * {step})"
    e["wait"] = "toInt64(intHash32(number * 3 + 1) % 120000) * 1000"
    e["talk"] = "toInt64(30 + intHash32(number * 5 + 2) % 570) * 1000000"
    e["wrap"] = "toInt64(5 + intHash32(number * 17 + 5) % 55) * 1000000"
    e["agent"] = "concat('agent', toString(intHash32(number * 7 + 3) % {}))".format(h.agents)
    e["uuid"] = f"concat({sql.literal(h.tag + '-')}, toString(number))"
    return e


def cdr_insert(h: History) -> str:
    e = _exprs(h)
    return f"""INSERT INTO cdrs (event_id, call_uuid, node_id, ani, dnis, queue, agent_id, disposition,
    hangup_cause, start_us, answer_us, enqueue_us, connect_us, end_us, queue_wait_us, talk_us, hold_us,
    offers, billsec_us, ring_us, skills, ivr_flow, ingested_us)
SELECT concat('cdr:', {e['uuid']}), {e['uuid']}, 'bench', concat('+1555', toString(1000000 + number % 9000000)),
    concat('800555', toString(1000 + intHash32(number * 11) % {h.dnis_count})),
    concat('queue', toString({e['q']})),
    if({e['answered']}, {e['agent']}, ''),
    {e['disp']}, 'NORMAL_CLEARING',
    {e['enq']} - 20000000, {e['enq']} - 19000000, {e['enq']},
    if({e['answered']}, {e['enq']} + {e['wait']}, 0),
    {e['enq']} + {e['wait']} + if({e['answered']}, {e['talk']}, 0),
    {e['wait']}, if({e['answered']}, {e['talk']}, 0),
    if({e['answered']} AND number % 10 = 0, 30000000, 0),
    if({e['answered']}, 1, 0), if({e['answered']}, {e['talk']}, 0),
    if({e['answered']}, {e['enq']} + 1000000, 0),
    [concat('skill', toString({e['q']} % {h.skills}))], 'main', toUInt64(1)
FROM numbers({h.calls})"""


def queue_event_insert(h: History) -> str:
    """ENQUEUED for every call, OFFERED + CONNECTED for answered calls,
    ABANDONED / OVERFLOWED / CALLBACK_REQUESTED for the others."""
    e = _exprs(h)
    final = ("multiIf({a}, 'QUEUE_CONNECTED', {r} < 930, 'QUEUE_ABANDONED', {r} < 960, 'QUEUE_OVERFLOWED', "
             "{r} < 975, 'QUEUE_CALLBACK_REQUESTED', 'QUEUE_ABANDONED')").format(a=e["answered"], r=e["r"])
    return f"""INSERT INTO queue_events (event_id, call_uuid, queue, type, timestamp_us, agent_id, position,
    wait_us, node_id, ingested_us)
SELECT concat('qe:', {e['uuid']}, ':', toString(k)), {e['uuid']}, concat('queue', toString({e['q']})),
    multiIf(k = 0, 'QUEUE_ENQUEUED', k = 1, 'QUEUE_OFFERED', {final}),
    {e['enq']} + multiIf(k = 0, 0, k = 1, 1000000, {e['wait']}),
    if(k > 0 AND {e['answered']}, {e['agent']}, ''), 1, if(k = 2, {e['wait']}, 0), 'bench', toUInt64(1)
FROM numbers({h.calls}) ARRAY JOIN if({e['answered']}, [0, 1, 2], [0, 2]) AS k"""


def agent_state_insert(h: History) -> str:
    """Two agent events per answered call: ON_CALL -> WRAP_UP at the end of
    talk, WRAP_UP -> READY at the end of wrap-up."""
    e = _exprs(h)
    connect = f"({e['enq']} + {e['wait']})"
    ended = f"({connect} + {e['talk']})"
    return f"""INSERT INTO agent_states (event_id, agent_id, state, previous_state, reason, timestamp_us,
    previous_state_since_us, call_uuid, queue, call_enqueue_us, queues, ingested_us)
SELECT concat('as:', {e['uuid']}, ':', toString(k)), {e['agent']},
    if(k = 0, 'WRAP_UP', 'READY'), if(k = 0, 'ON_CALL', 'WRAP_UP'), '',
    if(k = 0, {ended}, {ended} + {e['wrap']}), if(k = 0, {connect}, {ended}),
    {e['uuid']}, concat('queue', toString({e['q']})), {e['enq']},
    [concat('queue', toString({e['q']}))], toUInt64(1)
FROM numbers({h.calls}) ARRAY JOIN [0, 1] AS k
WHERE {e['answered']}"""


def statements(h: History) -> list[tuple[str, str]]:
    """(table, statement) pairs that write the history."""
    return [("cdrs", cdr_insert(h)), ("queue_events", queue_event_insert(h)),
            ("agent_states", agent_state_insert(h))]


def generate(store: ReportStore, h: History, *, progress=None) -> dict[str, int]:
    """Write the history; returns rows per table."""
    for table, statement in statements(h):
        if progress:
            progress(f"generating {table} ...")
        store.execute(statement)
    return {table: int(store.query(f"SELECT count() FROM {sql.identifier(table)}")[0][0])
            for table, _ in statements(h)}
