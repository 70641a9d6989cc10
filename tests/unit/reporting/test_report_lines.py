"""A page's rows (queries.IntervalLine / AgentLine, built without dataclasses
for speed) carry exactly the figures hotline.reporting.formulas computes for
the same SQL row (interval_counts + interval_figures, AgentCounts +
agent_figures), on random rows: hermetic, no engine."""
import dataclasses

from hypothesis import given, settings, strategies as st

from hotline.reporting import queries

counts = st.integers(min_value=0, max_value=10**6)
durations = st.integers(min_value=0, max_value=10**15)


@st.composite
def interval_rows(draw):
    """A row of interval_sql: member, start, the 13 sums, max wait, answered <= T, abandoned <= T, abandoned <= S."""
    abandoned_short = draw(counts)
    return (draw(st.text(max_size=5)), draw(st.integers(0, 2**60)), *[draw(counts) for _ in range(8)],
            *[draw(durations) for _ in range(5)], draw(durations), draw(counts),
            abandoned_short + draw(st.integers(-3, 10)), abandoned_short)


@settings(max_examples=300, deadline=None)
@given(st.lists(interval_rows(), max_size=4))
def test_interval_lines_are_the_formulas_figures(rows):
    lines = queries._interval_lines(rows)
    figures = queries._interval_figures(rows)
    assert [tuple(line) for line in lines] == [dataclasses.astuple(f) for f in figures]
    assert [line.service_level for line in lines] == [f.service_level for f in figures]


def test_lines_have_the_dataclasses_fields():
    from hotline.reporting import formulas

    def names(cls):
        return tuple(f.name for f in dataclasses.fields(cls))

    assert queries.LineCounts._fields == names(formulas.IntervalCounts)
    assert queries.IntervalLine._fields == names(formulas.IntervalFigures)
    assert queries.AgentLineCounts._fields == names(formulas.AgentCounts)
    assert queries.AgentLine._fields == names(formulas.AgentFigures)


@st.composite
def agent_rows(draw):
    """A row of agent_sql: agent, start, the 12 sums, the buckets' (reason, µs) pairs
    (a reason maybe in several buckets; µs as chdb gives them: maybe text)."""
    numbers = draw(st.lists(st.one_of(st.just(0), durations), min_size=12, max_size=12))
    reasons = draw(st.lists(st.sampled_from(["", "break", "lunch", "training"]), max_size=4))
    as_text = draw(st.booleans())
    pairs = [[r, str(u) if as_text else u] for r, u in
             zip(reasons, [draw(st.one_of(st.just(0), durations)) for _ in reasons])]
    return (draw(st.text(max_size=5)), draw(st.integers(0, 2**60)), *numbers, pairs)


@settings(max_examples=300, deadline=None)
@given(st.lists(agent_rows(), max_size=4))
def test_agent_lines_are_the_formulas_figures(rows):
    from hotline.reporting import formulas

    lines = queries._agent_lines(rows)
    figures = [formulas.agent_figures(a, s, c) for a, s, c in queries._agent_figures(rows)]
    assert [tuple(line) for line in lines] == [dataclasses.astuple(f) for f in figures]
