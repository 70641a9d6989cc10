"""Routing rules on the dialled number (DNIS) and the caller's number (ANI),
and named number lists (VIP, blacklist, ...). Pure, no I/O.

Numbers
-------
:func:`normalize_number` removes whitespace, '-', '.', '(' and ')', then a
leading '+', then a leading '00' (the international prefix): "+44 20 7946
0000", "0044 (20) 7946-0000" and "442079460000" are the same number. What is
left must be 1-20 ASCII digits not starting with "00". Numbers are not
converted to E.164: "(800) 555-0100" stays "8005550100" while "+1 800 555
0100" gives "18005550100", so lists should hold numbers the way the trunk
presents them. Normalising a normalised number changes nothing.

Rules
-----
A rule matches a call when every condition it sets matches (an empty one
matches anything):

- ``dnis`` / ``ani``: a pattern: exact digits ("18005550100"), a prefix of
  digits followed by "*" ("1800*"), or "re:<regex>" (a Python regular
  expression that must match the whole number, at most 200 characters). The
  number is normalised first; one that cannot be (e.g. "anonymous") is matched
  as given, which only a regex can match ("re:anonymous|unknown|"), and a
  raw value longer than 64 characters matches no pattern at all.
- ``ani_list``: the ANI is in the named number list; ``ani_not_list``: it is
  not (an unparseable ANI is in no list).

Its actions: ``queue`` routes the call there, ``priority`` (-100..100) is
added to the call's priority, ``reject`` hangs up with ``reject_cause`` (a
FreeSWITCH hangup cause), ``overflow`` is the destination used when the call
cannot be served in its queue ("queue:sales", "voicemail:1000", "ivr:main").

Evaluation (:meth:`RuleSet.evaluate`) goes through the rules in order: the
priorities of all matching rules add up (the caller clamps the result); the
first matching rule with a queue decides the queue; the first matching rule
with an overflow decides it; the first matching rule that rejects stops the
evaluation. Caller input never raises.
"""
from __future__ import annotations

import dataclasses
import re
import types
from typing import Any, Callable, Iterable, Mapping, Sequence

from hotline.common.errors import InvalidArgument
from hotline.routing.fields import at, record

MAX_DIGITS = 20
MAX_PATTERN = 200
MAX_RAW_SUBJECT = 64          # an unparseable caller value longer than this matches no pattern
MAX_RULES = 1000
MAX_LISTS = 100
MAX_LIST_NUMBERS = 1_000_000
DESTINATION_KINDS = ("queue", "voicemail", "ivr")
DEFAULT_REJECT_CAUSE = "CALL_REJECTED"

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_NORMALISED = re.compile(r"(?!00)[0-9]{1,20}")
_CAUSE = re.compile(r"[A-Z][A-Z_]{0,63}")
_TARGET = re.compile(r"[A-Za-z0-9_.@+-]{1,128}")
_SEPARATORS = str.maketrans("", "", "-.()")

Matcher = Callable[[str], bool]


def normalize_number(text: str, field: str = "number") -> str:
    """The digits of a phone number: whitespace, '-', '.', '(' and ')' removed,
    then a leading '+', then a leading '00'; the rest must be 1-20 ASCII digits
    not starting with "00" ("+1 (800) 555-0100" -> "18005550100", "0044 20
    7946 0000" -> "442079460000"). InvalidArgument naming `field` otherwise."""
    if not isinstance(text, str):
        raise InvalidArgument(field, "must be a string")
    digits = "".join(text.split()).translate(_SEPARATORS)
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("00"):
        digits = digits[2:]
    if not _NORMALISED.fullmatch(digits):
        shown = text if len(text) <= 40 else text[:40] + "..."
        if not digits:
            problem = f"{shown!r} has no digits"
        elif not (digits.isascii() and digits.isdigit()):
            problem = (f"{shown!r} is not a phone number: digits, optionally separated by spaces, '-', '.', "
                       f"'(' or ')', after an optional '+' or '00'")
        elif len(digits) > MAX_DIGITS:
            problem = f"{shown!r} has more than {MAX_DIGITS} digits"
        else:
            problem = f"{shown!r} starts with '00' after its international prefix"
        raise InvalidArgument(field, problem)
    return digits


def _lenient(text: Any) -> str | None:
    """The normalised number, or None when `text` is not one (never raises)."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    try:
        return normalize_number(text)
    except InvalidArgument:
        return None


def parse_destination(text: str, field: str = "destination") -> tuple[str, str]:
    """"kind:target" -> (kind, target), kind one of queue, voicemail, ivr:
    "voicemail:1000" -> ("voicemail", "1000"), "queue:sales" -> ("queue",
    "sales"). The target is 1-128 letters, digits, '_', '-', '.', '@' or '+'
    ("voicemail:1000@default"); a queue target is a queue name (1-64 letters,
    digits, '-', '_'). InvalidArgument naming `field` otherwise."""
    if not isinstance(text, str) or ":" not in text:
        raise InvalidArgument(field, "must be kind:target with kind queue, voicemail or ivr, e.g. voicemail:1000")
    kind, _, target = text.partition(":")
    if kind not in DESTINATION_KINDS:
        raise InvalidArgument(field, f"kind {kind[:20]!r} is not one of {', '.join(DESTINATION_KINDS)}")
    if not target:
        raise InvalidArgument(field, f"the {kind} after {kind + ':'!r} is missing")
    if not _TARGET.fullmatch(target):
        raise InvalidArgument(field, "the target must be 1-128 letters, digits, '_', '-', '.', '@' or '+'")
    if kind == "queue" and not _NAME.fullmatch(target):
        raise InvalidArgument(field, "a queue name is 1-64 letters, digits, '-' or '_'")
    return kind, target


@dataclasses.dataclass(frozen=True)
class NumberList:
    """A named set of normalised numbers (build it with :meth:`of` to
    normalise them)."""

    name: str
    numbers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, name: str, numbers: Iterable[str], field: str = "") -> NumberList:
        """A validated list from numbers in any format normalize_number takes;
        a bad one is named "numbers[i]" by its position."""
        normalised = []
        for i, number in enumerate(numbers):
            if i >= MAX_LIST_NUMBERS:
                raise InvalidArgument(at(field, "numbers"), f"at most {MAX_LIST_NUMBERS} numbers")
            normalised.append(normalize_number(number, at(field, f"numbers[{i}]")))
        number_list = cls(name, frozenset(normalised))
        number_list.validate(field)
        return number_list

    def validate(self, field: str = "") -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidArgument(at(field, "name"), "must be 1-64 letters, digits, '-' or '_'")
        if not isinstance(self.numbers, frozenset):
            raise InvalidArgument(at(field, "numbers"), "must be a frozenset of normalised numbers")
        if len(self.numbers) > MAX_LIST_NUMBERS:
            raise InvalidArgument(at(field, "numbers"), f"at most {MAX_LIST_NUMBERS} numbers")
        for number in self.numbers:
            if not isinstance(number, str) or not _NORMALISED.fullmatch(number):
                raise InvalidArgument(at(field, "numbers"),
                                      f"{str(number)[:40]!r} is not a normalised number (NumberList.of normalises)")

    def contains(self, number: Any) -> bool:
        """Whether `number`, normalised, is in the list. A value that is not a
        number ("anonymous", "", None) is in no list; never raises."""
        normalised = _lenient(number)
        return normalised is not None and normalised in self.numbers

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "numbers": sorted(self.numbers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "") -> NumberList:
        fields = record(data, field, "list", {"name": str, "numbers": list}, ("name",))
        return cls.of(fields["name"], fields.get("numbers", ()), field)


def _matcher(pattern: Any, field: str) -> Matcher | None:
    """The test for a dnis/ani pattern; None for the empty pattern (anything)."""
    if not isinstance(pattern, str):
        raise InvalidArgument(field, "must be a string")
    if not pattern:
        return None
    if len(pattern) > MAX_PATTERN:
        raise InvalidArgument(field, f"a pattern has at most {MAX_PATTERN} characters")
    if pattern.startswith("re:"):
        if pattern == "re:":
            raise InvalidArgument(field, "the regular expression after 're:' is empty")
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise InvalidArgument(field, f"the regular expression does not compile: {exc}") from None
        return lambda subject: regex.fullmatch(subject) is not None
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        if not _DIGITS.fullmatch(prefix):
            raise InvalidArgument(field, "a prefix pattern is 1-20 digits then '*', e.g. 1800*")
        return lambda subject: subject.startswith(prefix)
    if not _DIGITS.fullmatch(pattern):
        raise InvalidArgument(field, "must be digits (no '+', spaces or separators), digits followed by '*' "
                                     "or re:<regex>")
    return lambda subject: subject == pattern


@dataclasses.dataclass(frozen=True)
class RoutingRule:
    """Conditions (all that are set must match; see the module docstring for
    patterns) and actions (at least one; a rejecting rule has no queue,
    overflow or priority)."""

    name: str
    dnis: str = ""
    ani: str = ""
    ani_list: str = ""
    ani_not_list: str = ""
    queue: str = ""
    priority: int = 0
    reject: bool = False
    reject_cause: str = DEFAULT_REJECT_CAUSE
    overflow: str = ""

    def validate(self, field: str = "") -> None:
        """InvalidArgument naming the first bad field ("dnis", or
        "rules[3].dnis" with field="rules[3]"). Whether the named lists
        exist is checked by RuleSet."""
        self._compile(field)

    def _compile(self, field: str) -> _Rule:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise InvalidArgument(at(field, "name"), "must be 1-64 letters, digits, '-' or '_'")
        dnis = _matcher(self.dnis, at(field, "dnis"))
        ani = _matcher(self.ani, at(field, "ani"))
        for key in ("ani_list", "ani_not_list", "queue"):
            value = getattr(self, key)
            if not isinstance(value, str) or (value and not _NAME.fullmatch(value)):
                raise InvalidArgument(at(field, key), "must be empty or a name of 1-64 letters, digits, '-' or '_'")
        if self.ani_list and self.ani_not_list == self.ani_list:
            raise InvalidArgument(at(field, "ani_not_list"),
                                  "is the same list as ani_list: the rule could never match")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) or not -100 <= self.priority <= 100:
            raise InvalidArgument(at(field, "priority"), "must be an integer between -100 and 100")
        if not isinstance(self.reject, bool):
            raise InvalidArgument(at(field, "reject"), "must be true or false")
        if not isinstance(self.reject_cause, str) or not _CAUSE.fullmatch(self.reject_cause):
            raise InvalidArgument(at(field, "reject_cause"),
                                  "must be a FreeSWITCH hangup cause: uppercase letters and '_', e.g. CALL_REJECTED")
        if not isinstance(self.overflow, str):
            raise InvalidArgument(at(field, "overflow"), "must be a string")
        if self.overflow:
            parse_destination(self.overflow, at(field, "overflow"))
        if self.reject:
            for key, value in (("queue", self.queue), ("overflow", self.overflow), ("priority", self.priority)):
                if value:
                    raise InvalidArgument(at(field, key), f"a rule that rejects the call cannot also set {key}")
        elif not (self.queue or self.priority or self.overflow):
            raise InvalidArgument(field or "rule", "has no action: set queue, priority, reject or overflow")
        return _Rule(self.name, dnis, ani, self.ani_list, self.ani_not_list, self.queue, self.priority,
                     self.reject_cause if self.reject else "", self.overflow)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "") -> RoutingRule:
        """A validated rule from a to_dict()-shaped dict (fields other than
        name may be left out)."""
        kinds = {f.name: (bool if f.name == "reject" else int if f.name == "priority" else str)
                 for f in dataclasses.fields(cls)}
        rule = cls(**record(data, field, "rule", kinds, ("name",)))
        rule.validate(field)
        return rule


@dataclasses.dataclass(frozen=True)
class _Rule:
    name: str
    dnis: Matcher | None
    ani: Matcher | None
    ani_list: str
    ani_not_list: str
    queue: str
    priority: int
    reject_cause: str         # "" unless the rule rejects
    overflow: str


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the rules decided for a call. `queue`: where it goes (the queue
    asked for when no rule set one); `priority_delta`: the sum over the
    matching rules, to add to the call's priority (the caller clamps);
    `reject_cause`: non-empty when the call is to be rejected with this
    hangup cause (the other fields then hold what earlier rules decided, for
    the record); `overflow`: the first matching overflow destination or "";
    `matched`: the names of the matching rules, in order."""

    queue: str
    priority_delta: int
    reject_cause: str = ""
    overflow: str = ""
    matched: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return bool(self.reject_cause)


def _subject(value: Any) -> str | None:
    """What a dnis/ani pattern is matched against: the normalised number, else
    the raw string, None (nothing matches) when too long."""
    if not isinstance(value, str):
        value = ""
    normalised = _lenient(value)
    if normalised is not None:
        return normalised
    return value if len(value) <= MAX_RAW_SUBJECT else None


class RuleSet:
    """Validated routing rules in order, with the number lists they refer to.
    Building one raises InvalidArgument naming the bad field: "rules[3].ani_list"
    (the index in `rules`), "lists[vip].numbers" (the key in `lists`)."""

    def __init__(self, rules: Sequence[RoutingRule] = (), lists: Mapping[str, NumberList] | None = None) -> None:
        lists = dict(lists or {})
        if len(rules) > MAX_RULES:
            raise InvalidArgument("rules", f"at most {MAX_RULES} rules")
        if len(lists) > MAX_LISTS:
            raise InvalidArgument("lists", f"at most {MAX_LISTS} number lists")
        for key, number_list in lists.items():
            field = f"lists[{key}]"
            if not isinstance(number_list, NumberList):
                raise InvalidArgument(field, "must be a NumberList")
            number_list.validate(field)
            if number_list.name != key:
                raise InvalidArgument(at(field, "name"), f"must equal its key {str(key)[:64]!r}")
        compiled = []
        names: set[str] = set()
        for i, rule in enumerate(rules):
            field = f"rules[{i}]"
            if not isinstance(rule, RoutingRule):
                raise InvalidArgument(field, "must be a RoutingRule")
            compiled.append(rule._compile(field))
            if rule.name in names:
                raise InvalidArgument(at(field, "name"), f"another rule is already named {rule.name!r}")
            names.add(rule.name)
            for key in ("ani_list", "ani_not_list"):
                ref = getattr(rule, key)
                if ref and ref not in lists:
                    raise InvalidArgument(at(field, key), f"there is no number list named {ref!r}")
        self.rules: tuple[RoutingRule, ...] = tuple(rules)
        self.lists: Mapping[str, NumberList] = types.MappingProxyType(lists)
        self._compiled = tuple(compiled)
        self._numbers = {key: number_list.numbers for key, number_list in lists.items()}

    def evaluate(self, ani: str, dnis: str, queue: str) -> Decision:
        """The decision for a call from `ani` to `dnis` that the IVR sends to
        `queue`. Never raises on caller input: any value, even None, is
        matched as described in the module docstring."""
        ani_subject, dnis_subject = _subject(ani), _subject(dnis)
        ani_number = _lenient(ani)
        chosen = queue if isinstance(queue, str) else ""
        queue_set = False
        delta = 0
        overflow = ""
        matched: list[str] = []
        for rule in self._compiled:
            if rule.dnis is not None and (dnis_subject is None or not rule.dnis(dnis_subject)):
                continue
            if rule.ani is not None and (ani_subject is None or not rule.ani(ani_subject)):
                continue
            if rule.ani_list and (ani_number is None or ani_number not in self._numbers[rule.ani_list]):
                continue
            if rule.ani_not_list and ani_number is not None and ani_number in self._numbers[rule.ani_not_list]:
                continue
            matched.append(rule.name)
            delta += rule.priority
            if rule.reject_cause:
                return Decision(chosen, delta, rule.reject_cause, overflow, tuple(matched))
            if rule.queue and not queue_set:
                chosen, queue_set = rule.queue, True
            if rule.overflow and not overflow:
                overflow = rule.overflow
        return Decision(chosen, delta, "", overflow, tuple(matched))

    # -- plain dicts (admin API, snapshots) -------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"rules": [rule.to_dict() for rule in self.rules],
                "lists": [self.lists[key].to_dict() for key in sorted(self.lists)]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleSet:
        """From {"rules": [rule dicts], "lists": [list dicts]}; errors name
        the position: "rules[2].dnis", "lists[0].numbers[3]"."""
        fields = record(data, "", "ruleset", {"rules": list, "lists": list}, ())
        for key, limit in (("rules", MAX_RULES), ("lists", MAX_LISTS)):
            if len(fields.get(key, ())) > limit:
                raise InvalidArgument(key, f"at most {limit} entries")
        lists: dict[str, NumberList] = {}
        for i, item in enumerate(fields.get("lists", ())):
            number_list = NumberList.from_dict(item, f"lists[{i}]")
            if number_list.name in lists:
                raise InvalidArgument(f"lists[{i}].name", f"another list is already named {number_list.name!r}")
            lists[number_list.name] = number_list
        rules = [RoutingRule.from_dict(item, f"rules[{i}]") for i, item in enumerate(fields.get("rules", ()))]
        return cls(rules, lists)
