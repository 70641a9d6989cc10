"""The report readers on both engines, on roll-up rows written by hand:
several recomputes of a bucket coexist (superseded rows not merged away yet)
and only the rows of the bucket's newest marker in rollup_versions count; a
key the newest recompute did not write has no row; rows written without a
marker (a recompute in flight) are not read; names with quotes reach the
SQL safely."""
from hotline.reporting import migrations, queries, rollup

S = 1_000_000
T0 = 1_709_283_600 * S
B = 900 * S
HIST = [0] * 62


def hist(**slots):
    out = list(HIST)
    for slot, n in slots.items():
        out[int(slot[1:])] = n
    return out


def insert_apart(store, table, columns, rows):
    """One insert per row: each version its own part (chdb collapses a key's rows within one insert)."""
    for row in rows:
        store.insert(table, columns, [row])


def call_row(member, bucket, version, *, offered=0, answered=0, abandoned=0, wait_s=0, answer_slots=None,
             abandon_slots=None, dimension="queue"):
    values = dict(dimension=dimension, member=member, bucket_us=bucket, offered=offered, answered=answered,
                  handled=answered, abandoned=abandoned, flowed_out=0, callbacks=0, rejected=0, failed=0, offers=0,
                  missed=0, answered_wait_us=wait_s * S, max_answered_wait_us=wait_s * S, abandoned_wait_us=0,
                  talk_us=0, hold_us=0, wrap_up_us=0, answer_wait_hist=answer_slots or HIST,
                  abandon_wait_hist=abandon_slots or HIST, version=version)
    return tuple(values[c] for c in rollup.CALL_STATS_COLUMNS)


def mark(store, table, *bucket_versions):
    for bucket, version in bucket_versions:
        rollup.mark_current(store, table, [bucket], version)


def test_the_newest_version_of_each_bucket_wins(store):
    migrations.up(store)
    store.execute("SYSTEM STOP MERGES call_stats_15m")
    quoted = "sales 'east'"
    insert_apart(store, "call_stats_15m", rollup.CALL_STATS_COLUMNS, [
        # 09:00: three recomputes; the newest (30) says 3 offered, 2 answered (0 s and 12 s), 1 abandoned (3 s).
        call_row(quoted, T0, 10, offered=9, answered=9, wait_s=900, answer_slots=hist(s0=9)),
        call_row("gone", T0, 10, offered=4),               # only the oldest recompute had "gone"
        call_row(quoted, T0, 30, offered=3, answered=2, abandoned=1, wait_s=12, answer_slots=hist(s0=1, s3=1),
                 abandon_slots=hist(s1=1)),
        call_row(quoted, T0, 20, offered=7, answered=7, wait_s=70, answer_slots=hist(s0=7)),
        call_row(quoted, T0, 40, offered=50),              # a recompute in flight: no marker yet
        # 09:15: one recompute, 1 offered, answered after 25 s.
        call_row(quoted, T0 + B, 5, offered=1, answered=1, wait_s=25, answer_slots=hist(s5=1)),
        # the center's own rows (what a recompute writes beside the queues'): the oldest version is superseded
        call_row("all", T0, 10, offered=13, answered=9, dimension="center"),
        call_row("all", T0, 30, offered=3, answered=2, abandoned=1, dimension="center"),
        call_row("all", T0 + B, 5, offered=1, answered=1, dimension="center"),
    ])
    mark(store, "call_stats_15m", (T0, 10), (T0, 30), (T0, 20), (T0 + B, 5))
    mark(store, "agent_time_15m", (T0, 99))               # another table's marker changes nothing here
    report = queries.interval_report(store, from_us=T0, to_us=T0 + 2 * B, interval_s=1800, threshold_s=20,
                                     short_abandon_s=5)
    (row,) = report.rows                                  # "gone" has no row left
    c = row.counts
    assert (row.member, c.offered, c.answered, c.abandoned, c.short_abandoned) == (quoted, 4, 3, 1, 1)
    assert c.answered_within == 2                         # 0 s and 12 s; the 25 s call is not within 20 s
    assert c.answered_wait_us == (12 + 25) * S and c.max_answered_wait_us == 25 * S
    assert row.service_level == 2 / 3                     # offered' = 4 - 1 short
    assert queries.interval_report(store, from_us=T0, to_us=T0 + 2 * B, member=quoted).total.counts.offered == 4
    assert queries.interval_report(store, from_us=T0, to_us=T0 + 2 * B, member="x'; DROP TABLE cdrs; --").rows == []
    assert store.query("SELECT count() FROM call_stats_15m") == [(9,)]

    # group_by none: the center's rows, one row per interval; with a queue named, that queue's.
    (center,) = queries.interval_report(store, from_us=T0, to_us=T0 + 2 * B, group_by="none").rows
    assert (center.member, center.counts.offered, center.counts.answered) == ("", 4, 3)
    (one,) = queries.interval_report(store, from_us=T0, to_us=T0 + 2 * B, group_by="none", member=quoted).rows
    assert (one.member, one.counts.offered, one.counts.answered) == ("", 4, 3)


def test_agent_time_and_ivr_readers_take_the_newest_version(store):
    migrations.up(store)
    for table in ("agent_time_15m", "ivr_stats_15m"):
        store.execute(f"SYSTEM STOP MERGES {table}")
    insert_apart(store, "agent_time_15m", rollup.AGENT_TIME_COLUMNS, [
        ("1001", T0, 900 * S, 900 * S, 0, 0, 0, 0, [], [], 1),
        ("1001", T0, 900 * S, 300 * S, 0, 0, 0, 600 * S, ["lunch"], [600 * S], 2),
        ("1001", T0 + B, 600 * S, 0, 0, 0, 0, 600 * S, ["lunch", "coaching"], [500 * S, 100 * S], 1),
    ])
    mark(store, "agent_time_15m", (T0, 1), (T0, 2), (T0 + B, 1))
    report = queries.agent_report(store, from_us=T0, to_us=T0 + 2 * B, interval_s=1800)
    (row,) = report.rows
    assert (row.counts.logged_in_us, row.counts.ready_us, row.counts.not_ready_us) == (1500 * S, 300 * S, 1200 * S)
    assert row.counts.not_ready_by_reason_us == (("coaching", 100 * S), ("lunch", 1100 * S))

    insert_apart(store, "ivr_stats_15m", rollup.IVR_STATS_COLUMNS, [
        ("main", "menu", "menu", T0, 10, 10, 0, 5, 0, 0, 0, 50 * S, 1),
        ("main", "menu", "menu", T0, 4, 4, 0, 1, 0, 0, 0, 20 * S, 2),
        ("main", "greeting", "play", T0, 4, 4, 4, 0, 0, 1, 0, 8 * S, 2),
        ("main", "old", "play", T0, 3, 3, 3, 0, 0, 0, 0, 0, 1),            # not in the newest recompute
    ])
    mark(store, "ivr_stats_15m", (T0, 1), (T0, 2))
    ivr = queries.ivr_report(store, from_us=T0, to_us=T0 + B)
    assert [(n.counts.node, n.counts.visits, n.counts.hangups, n.drop_off_rate) for n in ivr.nodes] == [
        ("greeting", 4, 0, 0.0), ("menu", 4, 1, 0.25)]
    (flow,) = ivr.flows
    assert (flow.calls, flow.contained, flow.containment_rate) == (4, 1, 0.25)
