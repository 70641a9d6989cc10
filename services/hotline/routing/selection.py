"""Which ready agent takes a call: skills with proficiency, timed relaxation,
and pluggable strategies, answered from an index instead of a scan.

A queue requires skills with minimum proficiency levels (1-10). While a
call waits, the minimums relax in timed steps (bullseye routing): a step
``Relaxation(after_s=30, drop=2)`` lowers every minimum by 2 (never below 1)
once the call has waited 30 s; later steps replace earlier ones.

Among the agents who are READY, meet the (relaxed) requirements and have not
yet been tried for this call, the queue's strategy picks one:

=================  ========================================================
longest-idle       idle the longest (free since the earliest time)
round-robin        offered a call from this queue the longest ago (never
                   offered: first, by agent id)
top-down           lowest tier for the queue, then the agent's order in it
least-calls        fewest calls answered (since the counters were reset)
least-talk-time    least talk time (since the counters were reset)
random             uniformly at random (seeded: deterministic in tests)
=================  ========================================================

Ties are broken by agent id, so every choice is deterministic (random is
deterministic for a given seed). A strategy is a key function: the agent
with the smallest key wins; :func:`register_strategy` adds one.

How it is fast: ready agents sit in lazy min-heaps, one per proficiency
level (10) of an index, ordered by the strategy's key; queues with the same
required skills and a queue-independent strategy share an index (round-robin
and top-down have one per queue); an index holds only agents who have every
skill its queues require, so a choice rarely skips anyone. Making an agent
ready costs one push per index it belongs to. A choice peeks
the best valid entry of each level at or above the relaxed minimum and
takes the smallest; entries made stale by a state change are dropped when
they surface. A choice costs O(10 + stale + skipped · log n), independent
of how many agents are logged in.
"""
from __future__ import annotations

import dataclasses
import heapq
import random as random_mod
from typing import Callable, Iterable, Mapping, Sequence

from hotline.common.errors import InvalidArgument

LEVELS = range(1, 11)


@dataclasses.dataclass(frozen=True)
class Requirement:
    skill: str
    min_level: int = 1

    def validate(self, field: str) -> None:
        if not self.skill:
            raise InvalidArgument(field, "a required skill has no name")
        if not 1 <= self.min_level <= 10:
            raise InvalidArgument(field, f"minimum level of {self.skill!r} must be between 1 and 10")


@dataclasses.dataclass(frozen=True)
class Relaxation:
    after_s: int
    drop: int

    def validate(self, field: str) -> None:
        if not 0 < self.after_s <= 86_400:
            raise InvalidArgument(field, "after_s must be between 1 and 86400")
        if not 1 <= self.drop <= 9:
            raise InvalidArgument(field, "drop must be between 1 and 9 levels")


def validate_rules(requirements: Sequence[Requirement], relaxation: Sequence[Relaxation]) -> None:
    if not requirements:
        raise InvalidArgument("requirements", "a queue needs at least one required skill")
    seen = set()
    for i, req in enumerate(requirements):
        req.validate(f"requirements[{i}]")
        if req.skill in seen:
            raise InvalidArgument(f"requirements[{i}]", f"skill {req.skill!r} is required twice")
        seen.add(req.skill)
    previous = None
    for i, step in enumerate(relaxation):
        step.validate(f"relaxation[{i}]")
        if previous is not None and (step.after_s <= previous.after_s or step.drop <= previous.drop):
            raise InvalidArgument(f"relaxation[{i}]", "steps must come later and drop more than the one before")
        previous = step


def relaxed(requirements: Sequence[Requirement], relaxation: Sequence[Relaxation],
            waited_s: float) -> tuple[Requirement, ...]:
    """The requirements in force after waiting `waited_s` seconds."""
    return relaxed_by(requirements, relaxation_drop(relaxation, waited_s))


def relaxation_drop(relaxation: Sequence[Relaxation], waited_s: float) -> int:
    """How many levels the minimums have dropped after waiting `waited_s` seconds."""
    drop = 0
    for step in relaxation:
        if waited_s >= step.after_s:
            drop = step.drop
    return drop


def relaxed_by(requirements: Sequence[Requirement], drop: int) -> tuple[Requirement, ...]:
    """The requirements with every minimum lowered by `drop` levels (never below 1)."""
    if not drop:
        return tuple(requirements)
    return tuple(Requirement(r.skill, max(1, r.min_level - drop)) for r in requirements)


@dataclasses.dataclass
class AgentStats:
    """What the strategies read about one agent."""

    agent_id: str
    skills: dict[str, int]
    idle_since_us: int = 0
    calls: int = 0
    talk_us: int = 0
    tiers: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)   # queue -> (tier, position)
    last_offer_us: dict[str, int] = dataclasses.field(default_factory=dict)       # queue -> when


Key = Callable[[AgentStats, str, "random_mod.Random"], tuple]
# Strategies whose key depends on the queue keep one index per queue; the
# others share one index per (skill, strategy) among all queues that use them.
_PER_QUEUE = {"round-robin", "top-down"}

_STRATEGIES: dict[str, Key] = {
    "longest-idle": lambda a, q, r: (a.idle_since_us,),
    "round-robin": lambda a, q, r: (a.last_offer_us.get(q, -1),),
    "top-down": lambda a, q, r: a.tiers.get(q, (1_000_000, 1_000_000)),
    "least-calls": lambda a, q, r: (a.calls,),
    "least-talk-time": lambda a, q, r: (a.talk_us,),
    "random": lambda a, q, r: (r.random(),),
    # Ring-all rings every eligible agent at once (the ACD asks for eligible());
    # the order only decides which legs go first when the list is capped.
    "ring-all": lambda a, q, r: (a.idle_since_us,),
}


def strategies() -> tuple[str, ...]:
    return tuple(_STRATEGIES)


def register_strategy(name: str, key: Key, *, per_queue: bool = True) -> None:
    """A strategy of your own: key(agent, queue, rng) -> a tuple; smallest wins.
    per_queue=False when the key does not depend on the queue (cheaper)."""
    if not name or name in _STRATEGIES:
        raise ValueError(f"strategy name {name!r} is empty or taken")
    _STRATEGIES[name] = key
    if per_queue:
        _PER_QUEUE.add(name)


def check_strategy(name: str) -> None:
    if name not in _STRATEGIES:
        raise InvalidArgument("strategy", f"{name!r} is not one of {', '.join(_STRATEGIES)}")


@dataclasses.dataclass
class _Index:
    name: str                      # the queue's name, or "" for an index shared by queues
    skill: str                     # the primary skill: agents with it are indexed here, by its level
    strategy: str
    needs: tuple[str, ...] = ()    # further skills an agent must have (at any level) to be indexed
    heaps: dict[int, list[tuple]] = dataclasses.field(default_factory=lambda: {lvl: [] for lvl in LEVELS})
    users: int = 0                 # queues using it
    pushes: int = 0                # entries pushed since the last compaction
    live: int = 0                  # valid entries found at the last compaction
    by_level: list[list[tuple]] = dataclasses.field(init=False)   # heaps[1..10] as a list (the same lists)

    def __post_init__(self) -> None:
        self.by_level = [self.heaps[level] for level in LEVELS]


class AgentSelector:
    """The ready agents, indexed per queue. Not thread-safe (one greenlet)."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.agents: dict[str, AgentStats] = {}
        self._ready: dict[str, int] = {}        # agent id -> version of its current ready spell
        self._version = 0
        self._queues: dict[str, _Index] = {}
        # (primary skill, strategy, queue or "", other skills) -> index
        self._indexes: dict[tuple[str, str, str, tuple[str, ...]], _Index] = {}
        self._by_skill: dict[str, list[_Index]] = {}
        self._rng = random_mod.Random(seed)
        # Told each agent made ready (the ACD wakes the waiting calls it may take).
        self.on_ready: Callable[[str], None] | None = None

    # -- queues --------------------------------------------------------------
    def set_queue(self, name: str, primary_skill: str, strategy: str, other_skills: Iterable[str] = ()) -> None:
        """A queue whose calls need `primary_skill` (and `other_skills`, at
        levels given with each choice), routed by `strategy`."""
        check_strategy(strategy)
        needs = tuple(sorted(set(other_skills) - {primary_skill}))
        old = self._queues.get(name)
        if old is not None and (old.skill, old.strategy, old.needs) == (primary_skill, strategy, needs):
            return
        self.remove_queue(name)
        key = (primary_skill, strategy, name if strategy in _PER_QUEUE else "", needs)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = _Index(key[2], primary_skill, strategy, needs)
            self._by_skill.setdefault(primary_skill, []).append(index)
            for agent_id in self._ready:
                self._push(index, self.agents[agent_id])
        index.users += 1
        self._queues[name] = index

    def remove_queue(self, name: str) -> None:
        index = self._queues.pop(name, None)
        if index is not None:
            index.users -= 1
            if not index.users:
                del self._indexes[(index.skill, index.strategy, index.name, index.needs)]
                self._by_skill[index.skill].remove(index)

    # -- agents --------------------------------------------------------------
    def stats(self, agent_id: str, skills: Mapping[str, int] | None = None) -> AgentStats:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentStats(agent_id, dict(skills or {}))
        elif skills is not None and dict(skills) != agent.skills:
            agent.skills = dict(skills)
            if agent_id in self._ready:          # re-index under the new skills
                self.set_ready(agent_id)
        return agent

    def set_ready(self, agent_id: str) -> None:
        """The agent can take a call (again); its stats are read now for the keys."""
        agent = self.agents[agent_id]
        self._version += 1
        self._ready[agent_id] = self._version
        for skill in agent.skills:
            for index in self._by_skill.get(skill, ()):
                self._push(index, agent)
        if self.on_ready is not None:
            self.on_ready(agent_id)

    def set_busy(self, agent_id: str) -> None:
        """Not available: reserved, on a call, wrap-up, not ready, logged out."""
        self._ready.pop(agent_id, None)

    def forget(self, agent_id: str) -> None:
        self._ready.pop(agent_id, None)
        self.agents.pop(agent_id, None)

    def is_ready(self, agent_id: str) -> bool:
        return agent_id in self._ready

    def ready_count(self) -> int:
        return len(self._ready)

    def _push(self, index: _Index, agent: AgentStats) -> None:
        skills = agent.skills
        level = skills.get(index.skill, 0)
        if level < 1 or any(skills.get(skill, 0) < 1 for skill in index.needs):
            return
        key = _STRATEGIES[index.strategy](agent, index.name, self._rng)
        heapq.heappush(index.heaps[min(level, 10)], (key, agent.agent_id, self._ready[agent.agent_id]))
        index.pushes += 1
        if index.pushes > 64 + 2 * index.live:
            # Drop the stale entries that never surfaced: memory and heap depth follow
            # the ready agents; amortised O(1) per push.
            ready, live = self._ready, 0
            for heap in index.heaps.values():
                heap[:] = [e for e in heap if ready.get(e[1]) == e[2]]
                heapq.heapify(heap)
                live += len(heap)
            index.pushes, index.live = 0, live

    # -- the choice ------------------------------------------------------------
    def choose(self, queue: str, requirements: Sequence[Requirement],
               exclude: Iterable[str] = ()) -> str | None:
        """The best ready agent for a call in `queue` under `requirements`
        (already relaxed), not in `exclude`; None when there is none."""
        index = self._queues.get(queue)
        if index is None:
            return None
        skill = index.skill
        primary, others = 1, []
        for r in requirements:
            if r.skill == skill:
                primary = r.min_level
            else:
                others.append(r)
        ready, heappop = self._ready, heapq.heappop
        # The best valid entry of each level at or above the minimum (stale
        # entries, of agents who left READY since they were pushed, are dropped).
        tops: list[tuple[tuple, list[tuple]]] = []
        for heap in index.by_level[max(primary, 1) - 1:]:
            while heap:
                top = heap[0]
                if ready.get(top[1]) == top[2]:
                    tops.append((top, heap))
                    break
                heappop(heap)
        if not tops:
            return None
        # Valid entries name distinct agents, so comparing (entry, heap) pairs
        # never reaches the heaps.
        best = min(tops)[0][1]
        excluded = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        if best not in excluded and self.meets(best, others):
            return best                          # the usual case: the best entry of all levels
        return self._choose_merged(tops, others, excluded)

    def meets(self, agent_id: str, others: Sequence[Requirement]) -> bool:
        """Whether the agent has every skill of ``others`` at its minimum level."""
        if not others:
            return True
        skills = self.agents[agent_id].skills
        return all(skills.get(r.skill, 0) >= r.min_level for r in others)

    def _choose_merged(self, tops: list[tuple[tuple, list[tuple]]], others: list[Requirement],
                       excluded: set[str] | frozenset[str]) -> str | None:
        """The k-way merge of the levels' heaps, skipping agents excluded or
        short of the other skills (put back afterwards)."""
        ready = self._ready
        heapq.heapify(tops)
        held: list[tuple[list[tuple], tuple]] = []   # valid entries skipped for this call, to put back
        try:
            while tops:
                entry, heap = tops[0]
                agent_id = entry[1]
                if agent_id not in excluded and self.meets(agent_id, others):
                    return agent_id
                held.append((heap, heapq.heappop(heap)))
                while heap and ready.get(heap[0][1]) != heap[0][2]:
                    heapq.heappop(heap)
                if heap:
                    heapq.heapreplace(tops, (heap[0], heap))
                else:
                    heapq.heappop(tops)
            return None
        finally:
            for heap, entry in held:
                heapq.heappush(heap, entry)

    def eligible(self, queue: str, requirements: Sequence[Requirement], exclude: Iterable[str] = ()) -> list[str]:
        """Every ready agent who could take the call, best first (for ring-all
        and for checks); O(ready agents of the queue)."""
        index = self._queues.get(queue)
        if index is None:
            return []
        excluded = set(exclude)
        found = []
        for level, heap in index.heaps.items():
            for key, agent_id, version in heap:
                if self._ready.get(agent_id) != version or agent_id in excluded:
                    continue
                agent = self.agents[agent_id]
                if all(agent.skills.get(r.skill, 0) >= r.min_level for r in requirements):
                    found.append((key, agent_id))
        return [agent_id for _, agent_id in sorted(set(found))]
