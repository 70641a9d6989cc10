"""Routing's configuration as the admin API writes it: queues, agents,
calendars, number lists and the routing rules.

Three things live here, free of transport:

- conversion between the admin API's messages (hotline.proto.routing.v1)
  and the ACD's dataclasses, with validation errors that name the message's
  field path ("requirements[1].min_level", "hours[0].open", "rules[2].ani_list");
- the JSON of each object's configuration, which is the admin API's message
  in protobuf's JSON mapping with the proto's field names and every field
  present (an agent's JSON is its configuration only: no state);
- the config-events topic: :func:`publish_change` records a change (key
  ``<kind>:<name>``, compacted), and :func:`rebuild` applies the latest
  change per key to a fresh ACD after a restart.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from hotline.common import topics
from hotline.common.bus import EventBus, RawRecord
from hotline.common.errors import HotlineError, InvalidArgument
from hotline.proto.events.v1 import events_pb2 as ev
from hotline.proto.routing.v1 import routing_pb2 as pb
from hotline.routing import calendar, rules, selection
from hotline.routing.acd import Acd, Agent, QueueConfig

log = logging.getLogger(__name__)

QUEUE, AGENT, CALENDAR, LIST, RULE_SET = "queue", "agent", "calendar", "list", "rule_set"
KINDS = (CALENDAR, LIST, QUEUE, AGENT, RULE_SET)          # the order rebuild applies them in
RULE_SET_NAME = "default"                                  # there is one rule set: key "rule_set:default"

# -- strategies ------------------------------------------------------------------

STRATEGY_BY_ENUM: dict[int, str] = {
    pb.LONGEST_IDLE: "longest-idle",
    pb.ROUND_ROBIN: "round-robin",
    pb.RING_ALL: "ring-all",
    pb.TOP_DOWN: "top-down",
    pb.LEAST_CALLS: "least-calls",
    pb.LEAST_TALK_TIME: "least-talk-time",
    pb.RANDOM: "random",
}
ENUM_BY_STRATEGY = {name: number for number, name in STRATEGY_BY_ENUM.items()}


def strategy_from_proto(strategy: int, strategy_name: str) -> str:
    """The ACD's strategy name for a Queue's (strategy, strategy_name)."""
    if strategy == pb.CUSTOM:
        if not strategy_name:
            raise InvalidArgument("strategy_name", "is required with strategy CUSTOM")
        if strategy_name in ENUM_BY_STRATEGY:
            raise InvalidArgument("strategy_name", f"{strategy_name!r} is built in: use strategy "
                                                   f"{pb.Strategy.Name(ENUM_BY_STRATEGY[strategy_name])}")
        if strategy_name not in selection.strategies():
            custom = [s for s in selection.strategies() if s not in ENUM_BY_STRATEGY]
            raise InvalidArgument("strategy_name", f"{strategy_name!r} is not a registered strategy "
                                                   f"(registered: {', '.join(custom) or 'none'})")
        return strategy_name
    if strategy_name:
        raise InvalidArgument("strategy_name", "is only for strategy CUSTOM")
    if strategy == pb.STRATEGY_UNSPECIFIED:
        return "longest-idle"
    if strategy not in STRATEGY_BY_ENUM:
        raise InvalidArgument("strategy", f"unknown strategy {strategy}")
    return STRATEGY_BY_ENUM[strategy]


def strategy_to_proto(name: str) -> tuple[int, str]:
    if name in ENUM_BY_STRATEGY:
        return ENUM_BY_STRATEGY[name], ""
    return pb.CUSTOM, name


# -- queues ----------------------------------------------------------------------

_QUEUE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(QueueConfig)
                   if f.default is not dataclasses.MISSING}
_PLAIN_QUEUE_FIELDS = tuple(name for name in pb.Queue.DESCRIPTOR.fields_by_name
                            if name not in ("strategy", "strategy_name", "requirements", "relaxation")
                            and name in {f.name for f in dataclasses.fields(QueueConfig)})
# proto3 cannot tell 0 or "" from "not set": for these fields it means the default.
ZERO_MEANS_DEFAULT = tuple(name for name in _PLAIN_QUEUE_FIELDS if _QUEUE_DEFAULTS.get(name))


def queue_from_proto(msg: pb.Queue) -> QueueConfig:
    """A validated QueueConfig; InvalidArgument names the offending field."""
    requirements = []
    for i, r in enumerate(msg.requirements):
        if not r.skill:
            raise InvalidArgument(f"requirements[{i}].skill", "is required")
        if not 1 <= r.min_level <= 10:
            raise InvalidArgument(f"requirements[{i}].min_level", "must be between 1 and 10")
        if any(r.skill == other.skill for other in msg.requirements[:i]):
            raise InvalidArgument(f"requirements[{i}].skill", f"{r.skill!r} is required twice")
        requirements.append(selection.Requirement(r.skill, r.min_level))
    if msg.requirements and msg.requirements[0].skill != msg.skill and msg.skill:
        raise InvalidArgument("requirements[0].skill", f"must be the queue's skill {msg.skill!r}")
    relaxation = []
    for i, step in enumerate(msg.relaxation):
        if not 0 < step.after_s <= 86_400:
            raise InvalidArgument(f"relaxation[{i}].after_s", "must be between 1 and 86400")
        if not 1 <= step.drop <= 9:
            raise InvalidArgument(f"relaxation[{i}].drop", "must be between 1 and 9")
        relaxation.append(selection.Relaxation(step.after_s, step.drop))
    values: dict[str, Any] = {name: getattr(msg, name) for name in _PLAIN_QUEUE_FIELDS}
    for name in ZERO_MEANS_DEFAULT:
        values[name] = values[name] or _QUEUE_DEFAULTS[name]
    queue = QueueConfig(**values, strategy=strategy_from_proto(msg.strategy, msg.strategy_name),
                        requirements=tuple(requirements), relaxation=tuple(relaxation))
    queue.validate()
    return queue


def queue_to_proto(queue: QueueConfig) -> pb.Queue:
    strategy, strategy_name = strategy_to_proto(queue.strategy)
    return pb.Queue(
        **{name: getattr(queue, name) for name in _PLAIN_QUEUE_FIELDS},
        strategy=strategy, strategy_name=strategy_name,
        requirements=[pb.SkillRequirement(skill=r.skill, min_level=r.min_level) for r in queue.requirements],
        relaxation=[pb.RelaxationStep(after_s=s.after_s, drop=s.drop) for s in queue.relaxation])


# -- agents ----------------------------------------------------------------------

def agent_to_proto(agent: Agent) -> pb.Agent:
    """The agent's configuration (what UpsertAgent sets), without its state."""
    return pb.Agent(agent_id=agent.agent_id, name=agent.name, contact=agent.contact,
                    skills=agent.skills, tiers=agent.tiers)


def agent_status(agent: Agent) -> pb.AgentStatus:
    return pb.AgentStatus(
        agent=agent_to_proto(agent), state=agent.state,
        reason="" if agent.reason.startswith("pending:") else agent.reason,
        state_since_us=agent.state_since_us, call_uuid=agent.call_uuid, idle_since_us=agent.idle_since_us,
        dnd=agent.dnd, missed_offers=agent.missed_offers)


def upsert_agent(acd: Acd, msg: pb.Agent) -> Agent:
    return acd.upsert_agent(msg.agent_id, msg.name, msg.contact, dict(msg.skills), dict(msg.tiers))


# -- calendars, number lists, routing rules ------------------------------------------
# Their dataclasses (hotline.routing.calendar and .rules) read and write dicts
# with the proto's field names; the messages convert through those dicts.

def _as_dict(msg: Message) -> dict[str, Any]:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def calendar_from_proto(msg: pb.Calendar) -> calendar.Calendar:
    data = _as_dict(msg)
    data["timezone"] = data["timezone"] or "UTC"
    return calendar.Calendar.from_dict(data)


def calendar_to_proto(cal: calendar.Calendar) -> pb.Calendar:
    return json_format.ParseDict(cal.to_dict(), pb.Calendar())


def number_list_from_proto(msg: pb.NumberList) -> rules.NumberList:
    return rules.NumberList.from_dict(_as_dict(msg))


def number_list_to_proto(number_list: rules.NumberList) -> pb.NumberList:
    return json_format.ParseDict(number_list.to_dict(), pb.NumberList())


def rule_from_proto(msg: pb.RoutingRule, field: str) -> rules.RoutingRule:
    data = _as_dict(msg)
    if not data["reject_cause"]:
        del data["reject_cause"]                  # the default, CALL_REJECTED
    return rules.RoutingRule.from_dict(data, field)


def rules_from_proto(msg: pb.RoutingRules) -> tuple[rules.RoutingRule, ...]:
    return tuple(rule_from_proto(r, f"rules[{i}]") for i, r in enumerate(msg.rules))


def rule_to_proto(rule: rules.RoutingRule) -> pb.RoutingRule:
    msg = json_format.ParseDict(rule.to_dict(), pb.RoutingRule())
    if not rule.reject:
        msg.reject_cause = ""                     # only a rejecting rule has a cause
    return msg


def rules_to_proto(rule_list: Iterable[rules.RoutingRule]) -> pb.RoutingRules:
    return pb.RoutingRules(rules=[rule_to_proto(r) for r in rule_list])


# -- JSON ------------------------------------------------------------------------

def message_for(kind: str, obj: Any) -> Message:
    """The admin API's message for a configuration object of `kind`."""
    if kind == QUEUE:
        return queue_to_proto(obj)
    if kind == AGENT:
        return agent_to_proto(obj)
    if kind == CALENDAR:
        return calendar_to_proto(obj)
    if kind == LIST:
        return number_list_to_proto(obj)
    if kind == RULE_SET:
        return rules_to_proto(obj)
    raise ValueError(f"unknown configuration kind {kind!r}")


_MESSAGE_TYPES: dict[str, type[Message]] = {
    QUEUE: pb.Queue, AGENT: pb.Agent, CALENDAR: pb.Calendar, LIST: pb.NumberList, RULE_SET: pb.RoutingRules}


def to_json(kind: str, obj: Any) -> str:
    """The object's full configuration as JSON (the admin API's field names)."""
    return json.dumps(_as_dict(message_for(kind, obj)), sort_keys=True, separators=(",", ":"))


def from_json(kind: str, text: str) -> Message:
    """The admin API's message for a JSON configuration; InvalidArgument if it is not one."""
    if kind not in _MESSAGE_TYPES:
        raise InvalidArgument("kind", f"unknown configuration kind {kind!r}")
    try:
        return json_format.Parse(text, _MESSAGE_TYPES[kind]())
    except json_format.ParseError as exc:
        raise InvalidArgument("json", str(exc)) from None


# -- applying a message to the ACD (the admin API and rebuild share these) ----------

def apply(acd: Acd, kind: str, msg: Message) -> Any:
    """Validate `msg` and make it the ACD's configuration; returns what the ACD holds."""
    if kind == QUEUE:
        return acd.upsert_queue(queue_from_proto(msg))
    if kind == AGENT:
        return upsert_agent(acd, msg)
    if kind == CALENDAR:
        cal = calendar_from_proto(msg)
        acd.upsert_calendar(cal)
        return acd.calendars[cal.name]
    if kind == LIST:
        number_list = number_list_from_proto(msg)
        acd.upsert_list(number_list)
        return acd.lists[number_list.name]
    if kind == RULE_SET:
        acd.set_rules(rules_from_proto(msg))
        return acd.rules
    raise ValueError(f"unknown configuration kind {kind!r}")


def remove(acd: Acd, kind: str, name: str) -> None:
    {QUEUE: acd.delete_queue, AGENT: acd.delete_agent, CALENDAR: acd.delete_calendar,
     LIST: acd.delete_list, RULE_SET: lambda _: acd.set_rules(())}[kind](name)


def exists(acd: Acd, kind: str, name: str) -> bool:
    if kind == RULE_SET:
        return bool(acd.rules)
    holder: Mapping[str, Any] = {QUEUE: acd.queues, AGENT: acd.agents, CALENDAR: acd.calendars,
                                 LIST: acd.lists}[kind]
    return name in holder


# -- the config-events topic -------------------------------------------------------

def now_us() -> int:
    return int(time.time() * 1_000_000)


def change_event(kind: str, name: str, obj: Any | None, changed_by: str, *,
                 timestamp_us: int | None = None) -> ev.ConfigChange:
    return ev.ConfigChange(event_id=str(uuid.uuid4()), kind=kind, name=name, deleted=obj is None,
                           json="" if obj is None else to_json(kind, obj),
                           timestamp_us=now_us() if timestamp_us is None else timestamp_us,
                           changed_by=changed_by)


def publish_change(bus: EventBus, kind: str, name: str, obj: Any | None, changed_by: str) -> ev.ConfigChange:
    """Record that `kind` `name` is now `obj` (None: deleted) on the compacted
    config-events topic, keyed "<kind>:<name>"."""
    change = change_event(kind, name, obj, changed_by)
    bus.publish(topics.CONFIG_EVENTS, f"{kind}:{name}", change)
    return change


def decode(records: Iterable[RawRecord]) -> Iterator[ev.ConfigChange]:
    """The records' ConfigChanges; undecodable ones are skipped with a warning."""
    for raw in records:
        key = (raw.key or b"").decode("utf-8", "replace")
        try:
            change = ev.ConfigChange.FromString(raw.value)
        except DecodeError as exc:
            log.warning("config change %s at %s[%s]@%s is not a ConfigChange (%s): skipped",
                        key, raw.topic, raw.partition, raw.offset, exc)
            continue
        if change.kind not in KINDS or not change.name:
            log.warning("config change %s at %s[%s]@%s has kind %r and name %r: skipped",
                        key, raw.topic, raw.partition, raw.offset, change.kind, change.name)
            continue
        yield change


def latest(changes: Iterable[ev.ConfigChange]) -> dict[str, ev.ConfigChange]:
    """The latest change per key "<kind>:<name>" (the log is in order per key)."""
    out: dict[str, ev.ConfigChange] = {}
    for change in changes:
        key = f"{change.kind}:{change.name}"
        out.pop(key, None)              # keep the dict in order of each key's latest change
        out[key] = change
    return out


def _queue_targets(msg: pb.Queue) -> set[str]:
    """The queues a queue's overflow and closed destination name."""
    return {dest[len("queue:"):] for dest in (msg.overflow, msg.closed_destination) if dest.startswith("queue:")}


def _queue_order(changes: Sequence[ev.ConfigChange], messages: Mapping[str, pb.Queue]) -> list[ev.ConfigChange]:
    """Queues whose overflow (or closed destination) names another queue come
    after that queue; otherwise (and within a cycle) in name order."""
    by_name = {c.name: c for c in changes}
    ordered: list[ev.ConfigChange] = []
    placed: set[str] = set()
    pending = sorted(by_name)
    while pending:
        ready = [n for n in pending if (_queue_targets(messages[n]) & by_name.keys()) - {n} <= placed]
        for name in ready or pending[:1]:           # none ready: a cycle; break it at the first name
            ordered.append(by_name[name])
            placed.add(name)
        pending = [n for n in pending if n not in placed]
    return ordered


def _stub(msg: pb.Queue) -> QueueConfig:
    """The queue without its overflow, limits and calendar: it stands in while
    the queues of an overflow cycle are added, then is replaced."""
    stub = pb.Queue()
    stub.CopyFrom(msg)
    stub.overflow = stub.closed_destination = stub.calendar = ""
    stub.max_wait_s = stub.max_length = 0
    return queue_from_proto(stub)


def _apply_queues(acd: Acd, changes: Sequence[ev.ConfigChange], messages: Mapping[str, pb.Queue]) -> int:
    """Queues in overflow order. One that fails is retried after the others
    (it may wait for a queue later in the log); when nothing more applies and
    queues of an overflow cycle wait for each other, one of them is added
    without its overflow first (a stub) and completed on the next round."""
    pending = _queue_order(changes, messages)
    failures: dict[str, Exception] = {}
    stubbed: set[str] = set()
    applied = 0
    while pending:
        still = []
        for change in pending:
            try:
                _apply_named(acd, QUEUE, change.name, messages[change.name])
            except Exception as exc:  # noqa: BLE001 - reported below, never raised
                failures[change.name] = exc
                still.append(change)
            else:
                applied += 1
                stubbed.discard(change.name)
        progress, pending = len(still) < len(pending), still
        if progress or not pending:
            continue
        waiting = {c.name for c in pending}
        stub = next((c for c in pending if c.name not in stubbed and c.name not in acd.queues
                     and _queue_targets(messages[c.name]) & waiting), None)
        if stub is None:
            break
        stubbed.add(stub.name)
        try:
            acd.upsert_queue(_stub(messages[stub.name]))
        except Exception as exc:  # noqa: BLE001
            failures[stub.name] = exc
    for change in pending:
        _skipped(f"{QUEUE}:{change.name}", change, failures[change.name])
    for name in stubbed:
        try:
            acd.delete_queue(name)
        except Exception:  # noqa: BLE001
            log.warning("config queue:%s is left without its overflow, limits and calendar", name)
    return applied


def _apply_agent(acd: Acd, change: ev.ConfigChange, msg: pb.Agent) -> None:
    """An agent keeps its configuration when a queue it had a tier in is gone."""
    gone = sorted(q for q in msg.tiers if q not in acd.queues)
    if gone:
        log.warning("config change agent:%s (event %s): tiers in queue(s) %s that no longer exist are dropped",
                    change.name, change.event_id, ", ".join(gone))
        msg = pb.Agent(agent_id=msg.agent_id, name=msg.name, contact=msg.contact, skills=msg.skills,
                       tiers={q: t for q, t in msg.tiers.items() if q in acd.queues})
    _apply_named(acd, AGENT, change.name, msg)


def apply_changes(acd: Acd, changes: Iterable[ev.ConfigChange]) -> int:
    """Apply the latest change per key in dependency order: calendars, number
    lists, queues (a queue after the queue it overflows into), agents, the
    rule set; deletions first, in the reverse order. An entry that no longer
    validates is skipped with a warning naming its key; this never raises.
    Returns how many entries were applied."""
    upserts: dict[str, list[ev.ConfigChange]] = {kind: [] for kind in KINDS}
    deletes: dict[str, list[ev.ConfigChange]] = {kind: [] for kind in KINDS}
    messages: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for key, change in latest(changes).items():
        if change.deleted:
            deletes[change.kind].append(change)
            continue
        try:
            messages[change.kind][change.name] = from_json(change.kind, change.json)
        except InvalidArgument as exc:
            _skipped(key, change, exc)
            continue
        upserts[change.kind].append(change)

    applied = 0
    for kind in reversed(KINDS):
        for change in deletes[kind]:
            if exists(acd, kind, change.name):
                applied += _try(acd, change, lambda c: remove(acd, c.kind, c.name))
    for kind in KINDS:
        if kind == QUEUE:
            applied += _apply_queues(acd, upserts[QUEUE], messages[QUEUE])
            continue
        for change in upserts[kind]:
            msg = messages[kind][change.name]
            if kind == AGENT:
                applied += _try(acd, change, lambda c: _apply_agent(acd, c, msg))
            else:
                applied += _try(acd, change, lambda c: _apply_named(acd, c.kind, c.name, msg))
    return applied


def _apply_named(acd: Acd, kind: str, name: str, msg: Message) -> None:
    named = name if kind == RULE_SET else getattr(msg, "agent_id" if kind == AGENT else "name")
    if named != name:
        raise InvalidArgument("json", f"holds the configuration of {named!r}, not of {name!r}")
    apply(acd, kind, msg)


def _try(acd: Acd, change: ev.ConfigChange, fn: Callable[[ev.ConfigChange], None]) -> int:
    try:
        fn(change)
        return 1
    except Exception as exc:  # noqa: BLE001 - rebuilding must never stop the service
        _skipped(f"{change.kind}:{change.name}", change, exc)
        return 0


def _skipped(key: str, change: ev.ConfigChange, exc: Exception) -> None:
    if isinstance(exc, HotlineError):
        log.warning("config change %s (event %s by %s) is skipped: %s", key, change.event_id,
                    change.changed_by or "?", exc)
    else:
        log.warning("config change %s (event %s by %s) is skipped: unexpected %s", key, change.event_id,
                    change.changed_by or "?", type(exc).__name__, exc_info=exc)


def rebuild(acd: Acd, bus: EventBus) -> int:
    """Apply the configuration recorded on the config-events topic to `acd`
    (at start-up, before serving). Returns how many entries were applied."""
    records = bus.read_log([topics.CONFIG_EVENTS])
    applied = apply_changes(acd, decode(records))
    log.info("routing configuration rebuilt from %d config events: %d entries applied", len(records), applied)
    return applied
