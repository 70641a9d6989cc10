"""DNIS/ANI routing rules and number lists: number normalisation, patterns,
evaluation order by hand and as properties, every validation error by field,
caller input that never raises, and dict round trips."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.common.errors import InvalidArgument
from hotline.routing.rules import (Decision, NumberList, RoutingRule, RuleSet, normalize_number,
                                   parse_destination)

VIP = NumberList.of("vip", ["+44 20 7946 0000", "1-800-555-0199"])
BLOCKED = NumberList.of("blocked", ["+1 (555) 010-0666"])
LISTS = {"vip": VIP, "blocked": BLOCKED}


# -- numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("text,number", [
    ("+1 (800) 555-0100", "18005550100"),
    ("1.800.555.0100", "18005550100"),
    ("0044 20 7946 0000", "442079460000"),
    ("+44 20 7946 0000", "442079460000"),
    ("+0044 20 7946 0000", "442079460000"),
    ("(800) 555-0100", "8005550100"),                     # not made E.164: no country code is guessed
    ("020 7946 0000", "02079460000"),                     # a single national 0 stays
    ("\t5000 ", "5000"),
    ("0", "0"),
    ("000", "0"),
    ("1" * 20, "1" * 20),
])
def test_normalize_number(text, number):
    assert normalize_number(text) == number
    assert normalize_number(number) == number             # normalised numbers are fixed points


@pytest.mark.parametrize("text", ["", " ", "+", "00", "anonymous", "+1 800 CALL NOW", "++44", "1" * 21,
                                  "12²", "١٢٣", "0000 1", "1/2", "sip:1000@pbx", None, 18005550100])
def test_normalize_number_rejects_what_is_not_a_number(text):
    with pytest.raises(InvalidArgument) as raised:
        normalize_number(text)
    assert raised.value.field == "number"
    with pytest.raises(InvalidArgument) as raised:
        normalize_number(text, "calls[0].ani")
    assert raised.value.field == "calls[0].ani"


@given(digits=st.from_regex(r"[1-9][0-9]{0,19}", fullmatch=True), prefix=st.sampled_from(["", "+", "00", "+00"]),
       separators=st.lists(st.sampled_from([" ", "-", ".", "(", ")", "  ", "\t"]), max_size=20), data=st.data())
def test_formatted_numbers_normalise_to_their_digits(digits, prefix, separators, data):
    text = list(digits)
    for sep in separators:
        text.insert(data.draw(st.integers(0, len(text))), sep)
    assert normalize_number(prefix + "".join(text)) == digits


@given(text=st.text(max_size=30))
def test_normalize_is_idempotent_and_only_raises_invalid_argument(text):
    try:
        number = normalize_number(text)
    except InvalidArgument as exc:
        assert exc.field == "number"
        return
    assert normalize_number(number) == number and number.isdigit() and 1 <= len(number) <= 20


# -- destinations -------------------------------------------------------------------
@pytest.mark.parametrize("text,parsed", [
    ("voicemail:1000", ("voicemail", "1000")),
    ("voicemail:1000@default", ("voicemail", "1000@default")),
    ("queue:sales", ("queue", "sales")),
    ("ivr:main-menu", ("ivr", "main-menu")),
])
def test_parse_destination(text, parsed):
    assert parse_destination(text) == parsed


@pytest.mark.parametrize("text", ["voicemail", "sms:1000", "Queue:sales", "queue:", ":sales", "queue:sales team",
                                  "queue:sales@x", "ivr:a:b", "voicemail:" + "1" * 129, "", None, 5])
def test_parse_destination_rejects_bad_input_naming_the_field(text):
    with pytest.raises(InvalidArgument) as raised:
        parse_destination(text)
    assert raised.value.field == "destination"
    with pytest.raises(InvalidArgument) as raised:
        parse_destination(text, "queues[2].overflow")
    assert raised.value.field == "queues[2].overflow"


# -- number lists -------------------------------------------------------------------
def test_number_lists_normalise_and_contain_leniently():
    assert VIP.numbers == frozenset({"442079460000", "18005550199"})
    assert VIP.contains("0044 (20) 7946-0000")
    assert VIP.contains("442079460000")
    assert not VIP.contains("442079460001")
    for caller in ["anonymous", "", None, 442079460000, "4" * 500, "+", b"442079460000"]:
        assert not VIP.contains(caller)


@pytest.mark.parametrize("build,field", [
    (lambda: NumberList.of("vip list", []), "name"),
    (lambda: NumberList.of("vip", ["123", "abc"]), "numbers[1]"),
    (lambda: NumberList.of("vip", ["123", ""], "lists[0]"), "lists[0].numbers[1]"),
    (lambda: NumberList("vip", frozenset({"+44123"})).validate(), "numbers"),
    (lambda: NumberList("vip", frozenset({"0044123"})).validate(), "numbers"),
    (lambda: NumberList("vip", frozenset({123})).validate(), "numbers"),            # type: ignore[arg-type]
    (lambda: NumberList("vip", {"123"}).validate(), "numbers"),                      # type: ignore[arg-type]
    (lambda: NumberList("", frozenset()).validate(), "name"),
    (lambda: NumberList("v!").validate("lists[x]"), "lists[x].name"),
])
def test_number_list_errors_name_the_field(build, field):
    with pytest.raises(InvalidArgument) as raised:
        build()
    assert raised.value.field == field


# -- patterns and matching ----------------------------------------------------------
@pytest.mark.parametrize("pattern,number,matches", [
    ("18005550100", "+1 800 555 0100", True),
    ("18005550100", "18005550101", False),
    ("18005550100", "180055501001", False),
    ("1800*", "1-800-555-0100", True),
    ("1800*", "1800", True),
    ("1800*", "1888", False),
    ("re:1(800|888)[0-9]{7}", "+1 888 555 0100", True),
    ("re:1800", "18005550100", False),                    # the whole number must match
    ("re:.*0100", "18005550100", True),
    ("re:anonymous|unknown|", "anonymous", True),          # an unparseable value is matched as given
    ("re:anonymous|unknown|", "", True),
    ("re:anonymous|unknown|", None, True),                # a missing value is ""
    ("re:anonymous|unknown|", "5000", False),
    ("re:.*", "x" * 65, False),                           # long garbage matches no pattern
    ("re:.*", "1" * 20, True),
    ("5*", "anonymous", False),
    ("", "anything at all", True),
])
def test_patterns(pattern, number, matches):
    for field in ("dnis", "ani"):
        rules = RuleSet([RoutingRule("r", **{field: pattern}, priority=1)])
        call = {"ani": "", "dnis": "", field: number}
        assert (rules.evaluate(call["ani"], call["dnis"], "q").matched == ("r",)) is matches


def test_list_conditions():
    rules = RuleSet([RoutingRule("vip", ani_list="vip", priority=10),
                     RoutingRule("not-blocked", ani_not_list="blocked", priority=1)], LISTS)
    assert rules.evaluate("+44 20 7946 0000", "5000", "q").matched == ("vip", "not-blocked")
    assert rules.evaluate("+1 555 010 0666", "5000", "q").matched == ()
    assert rules.evaluate("anonymous", "5000", "q").matched == ("not-blocked",)     # in no list


# -- evaluation by hand -------------------------------------------------------------
def contact_center(*extra: RoutingRule) -> RuleSet:
    return RuleSet([
        RoutingRule("blacklist", ani_list="blocked", reject=True, reject_cause="USER_BUSY"),
        RoutingRule("vip", ani_list="vip", priority=20, queue="vip-support"),
        RoutingRule("toll-free", dnis="1800*", priority=5, overflow="voicemail:1000"),
        RoutingRule("sales-line", dnis="18005550100", queue="sales", overflow="queue:sales-backup"),
        RoutingRule("anonymous", ani="re:anonymous|unknown|", priority=-10),
        *extra,
    ], LISTS)


def test_evaluate_by_hand():
    rules = contact_center()
    assert rules.evaluate("+1 212 555 0100", "5000", "support") == Decision("support", 0)
    assert rules.evaluate("+1 212 555 0100", "+1 800 555 0100", "support") == \
        Decision("sales", 5, "", "voicemail:1000", ("toll-free", "sales-line"))
    # VIP calling the sales line: the first queue rule (vip) wins, priorities add, first overflow applies.
    assert rules.evaluate("+44 20 7946 0000", "1 800 555 0100", "support") == \
        Decision("vip-support", 25, "", "voicemail:1000", ("vip", "toll-free", "sales-line"))
    assert rules.evaluate("anonymous", "18005550199", "support") == \
        Decision("support", -5, "", "voicemail:1000", ("toll-free", "anonymous"))
    rejected = rules.evaluate("+1 555 010 0666", "18005550100", "support")
    assert rejected == Decision("support", 0, "USER_BUSY", "", ("blacklist",)) and rejected.rejected
    assert not rules.evaluate("", "", "support").rejected


def test_a_reject_stops_the_evaluation_but_keeps_what_came_before():
    rules = RuleSet([RoutingRule("boost", priority=3, queue="q2", overflow="ivr:main"),
                     RoutingRule("stop", dnis="9*", reject=True),
                     RoutingRule("after", priority=50, queue="q3")])
    assert rules.evaluate("1", "999", "q1") == Decision("q2", 3, "CALL_REJECTED", "ivr:main", ("boost", "stop"))
    assert rules.evaluate("1", "888", "q1") == Decision("q2", 53, "", "ivr:main", ("boost", "after"))


def test_no_rules_keep_the_queue_asked_for():
    assert RuleSet().evaluate("1", "2", "billing") == Decision("billing", 0)
    assert RuleSet([], LISTS).evaluate(None, None, None) == Decision("", 0)   # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(ani=st.one_of(st.text(), st.none(), st.integers(), st.binary(), st.just("4" * 10_000)),
       dnis=st.one_of(st.text(), st.none(), st.floats()), queue=st.one_of(st.text(), st.none()))
def test_caller_input_never_raises(ani, dnis, queue):
    decision = contact_center().evaluate(ani, dnis, queue)
    assert isinstance(decision, Decision)
    assert VIP.contains(ani) in (True, False)


# -- validation ---------------------------------------------------------------------
@pytest.mark.parametrize("rule,field", [
    (RoutingRule("no action"), "name"),
    (RoutingRule("", priority=1), "name"),
    (RoutingRule("r"), "rule"),
    (RoutingRule("r", dnis="1800"), "rule"),
    (RoutingRule("r", dnis="+1800", priority=1), "dnis"),
    (RoutingRule("r", dnis="1 800", priority=1), "dnis"),
    (RoutingRule("r", dnis="1800**", priority=1), "dnis"),
    (RoutingRule("r", dnis="*", priority=1), "dnis"),
    (RoutingRule("r", dnis="1" * 21, priority=1), "dnis"),
    (RoutingRule("r", ani="re:(", priority=1), "ani"),
    (RoutingRule("r", ani="re:", priority=1), "ani"),
    (RoutingRule("r", ani="re:" + "1" * 198, priority=1), "ani"),
    (RoutingRule("r", ani="anonymous", priority=1), "ani"),
    (RoutingRule("r", ani=5, priority=1), "ani"),                                   # type: ignore[arg-type]
    (RoutingRule("r", ani_list="v i p", priority=1), "ani_list"),
    (RoutingRule("r", ani_not_list="vip!", priority=1), "ani_not_list"),
    (RoutingRule("r", ani_list="vip", ani_not_list="vip", priority=1), "ani_not_list"),
    (RoutingRule("r", queue="sales team"), "queue"),
    (RoutingRule("r", priority=101), "priority"),
    (RoutingRule("r", priority=-101), "priority"),
    (RoutingRule("r", priority=True, queue="q"), "priority"),                      # type: ignore[arg-type]
    (RoutingRule("r", priority=1.5), "priority"),                                  # type: ignore[arg-type]
    (RoutingRule("r", reject="yes"), "reject"),                                    # type: ignore[arg-type]
    (RoutingRule("r", reject=True, reject_cause="call_rejected"), "reject_cause"),
    (RoutingRule("r", reject=True, reject_cause=""), "reject_cause"),
    (RoutingRule("r", reject=True, reject_cause="USER BUSY"), "reject_cause"),
    (RoutingRule("r", overflow="sms:1000"), "overflow"),
    (RoutingRule("r", overflow="queue:"), "overflow"),
    (RoutingRule("r", reject=True, queue="q"), "queue"),
    (RoutingRule("r", reject=True, overflow="voicemail:1"), "overflow"),
    (RoutingRule("r", reject=True, priority=5), "priority"),
])
def test_every_rule_error_names_its_field(rule, field):
    with pytest.raises(InvalidArgument) as raised:
        rule.validate()
    assert raised.value.field == field
    with pytest.raises(InvalidArgument) as raised:
        RuleSet([RoutingRule("ok", priority=1), RoutingRule("ok2", priority=2), RoutingRule("ok3", priority=3), rule],
                LISTS)
    assert raised.value.field == ("rules[3]" if field == "rule" else f"rules[3].{field}")


@pytest.mark.parametrize("build,field", [
    (lambda: RuleSet([RoutingRule("a", priority=1), RoutingRule("a", priority=2)]), "rules[1].name"),
    (lambda: RuleSet([RoutingRule("a", priority=1), RoutingRule("b", ani_list="gold", priority=2)], LISTS),
     "rules[1].ani_list"),
    (lambda: RuleSet([RoutingRule("a", ani_not_list="gold", priority=1)], LISTS), "rules[0].ani_not_list"),
    (lambda: RuleSet([RoutingRule("a", ani_list="vip", priority=1)]), "rules[0].ani_list"),
    (lambda: RuleSet([RoutingRule("a", priority=1)], {"gold": VIP}), "lists[gold].name"),
    (lambda: RuleSet([], {"vip": NumberList("vip", frozenset({"+1"}))}), "lists[vip].numbers"),
    (lambda: RuleSet([], {"vip": ["123"]}), "lists[vip]"),                              # type: ignore[dict-item]
    (lambda: RuleSet([{"name": "a"}]), "rules[0]"),                                     # type: ignore[list-item]
    (lambda: RuleSet([RoutingRule(f"r{i}", priority=1) for i in range(1001)]), "rules"),
    (lambda: RuleSet([], {f"l{i}": NumberList(f"l{i}") for i in range(101)}), "lists"),
])
def test_rule_set_errors_name_the_field(build, field):
    with pytest.raises(InvalidArgument) as raised:
        build()
    assert raised.value.field == field


def test_valid_edges_pass():
    RoutingRule("r", priority=-100).validate()
    RoutingRule("r", priority=100, dnis="re:" + "1" * 197).validate()
    RoutingRule("r", reject=True, reject_cause="NO_ROUTE_DESTINATION").validate()
    RoutingRule("r", queue="q", reject_cause="USER_BUSY").validate()       # unused without reject, still checked
    RoutingRule("Rule_1-a", dnis="5*", ani="re:\\d+", ani_list="vip", ani_not_list="blocked", queue="Q-1_x",
                priority=7, overflow="ivr:main").validate()


# -- plain dicts --------------------------------------------------------------------
def test_dicts_round_trip_through_json():
    rule = RoutingRule("vip", dnis="1800*", ani="re:44.*", ani_list="vip", ani_not_list="blocked", queue="gold",
                       priority=-7, overflow="voicemail:1000")
    assert rule.to_dict() == {"name": "vip", "dnis": "1800*", "ani": "re:44.*", "ani_list": "vip",
                              "ani_not_list": "blocked", "queue": "gold", "priority": -7, "reject": False,
                              "reject_cause": "CALL_REJECTED", "overflow": "voicemail:1000"}
    assert RoutingRule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule
    assert RoutingRule.from_dict({"name": "r", "reject": True}) == RoutingRule("r", reject=True)
    assert VIP.to_dict() == {"name": "vip", "numbers": ["18005550199", "442079460000"]}
    assert NumberList.from_dict(json.loads(json.dumps(VIP.to_dict()))) == VIP
    assert NumberList.from_dict({"name": "empty"}) == NumberList("empty")
    assert NumberList.from_dict({"name": "x", "numbers": ["+1 800 555 0100"]}).numbers == {"18005550100"}
    rules = contact_center()
    again = RuleSet.from_dict(json.loads(json.dumps(rules.to_dict())))
    assert again.rules == rules.rules and dict(again.lists) == dict(rules.lists)
    assert again.to_dict() == rules.to_dict()


@pytest.mark.parametrize("data,field", [
    ("name=r", "rule"),
    ({"priority": 1}, "name"),
    ({"name": "r", "prio": 1}, "prio"),
    ({"name": "r", "priority": "5"}, "priority"),
    ({"name": "r", "priority": True}, "priority"),
    ({"name": "r", "reject": 1}, "reject"),
    ({"name": "r", "dnis": 1800}, "dnis"),
    ({"name": "r", "queue": None}, "queue"),
    ({"name": "r", "dnis": "1800*"}, "rule"),
])
def test_rule_from_dict_names_the_field(data, field):
    with pytest.raises(InvalidArgument) as raised:
        RoutingRule.from_dict(data)
    assert raised.value.field == field


@pytest.mark.parametrize("data,field", [
    ([], "ruleset"),
    ({"rules": {}}, "rules"),
    ({"rulez": []}, "rulez"),
    ({"lists": [{"name": "vip", "numbers": ["1", "2", "x"]}]}, "lists[0].numbers[2]"),
    ({"lists": [{"name": "vip", "numbers": "123"}]}, "lists[0].numbers"),
    ({"lists": [{"name": "vip"}, {"name": "vip"}]}, "lists[1].name"),
    ({"lists": ["vip"]}, "lists[0]"),
    ({"rules": [{"name": "a", "priority": 1}, {"name": "b", "ani_list": "vip", "priority": 1}]},
     "rules[1].ani_list"),
    ({"rules": [{"name": "a", "priority": 1}, {"name": "b", "overflow": "queue", "priority": 1}]},
     "rules[1].overflow"),
    ({"rules": [{"name": "a", "priority": 1}] * 1001}, "rules"),
])
def test_rule_set_from_dict_names_the_field(data, field):
    with pytest.raises(InvalidArgument) as raised:
        RuleSet.from_dict(data)
    assert raised.value.field == field


# -- evaluation order, as properties ------------------------------------------------
CALLERS = ["+44 20 7946 0000", "442079460000", "+1 800 555 0199", "+1 555 010 0666", "anonymous", "",
           "+1 212 555 0100", "x" * 100]
DIALLED = ["+1 800 555 0100", "18005550100", "5000", "2000", "unknown", ""]
rule_st = st.builds(
    dict,
    dnis=st.sampled_from(["", "", "1800*", "18005550100", "re:1800.*", "re:unknown", "2*", "5000"]),
    ani=st.sampled_from(["", "", "44*", "442079460000", "re:44.*", "re:anonymous|", "1*"]),
    ani_list=st.sampled_from(["", "", "vip", "blocked"]),
    ani_not_list=st.sampled_from(["", "", "blocked"]),
    action=st.sampled_from(["queue", "priority", "overflow", "reject", "all"]),
    priority=st.integers(-100, 100).filter(bool),
    queue=st.sampled_from(["q1", "q2", "q3"]),
    overflow=st.sampled_from(["voicemail:1", "ivr:main", "queue:q9"]),
)


def make_rule(i: int, spec: dict) -> RoutingRule:
    action = spec["action"]
    ani_not_list = "" if spec["ani_not_list"] == spec["ani_list"] else spec["ani_not_list"]
    return RoutingRule(
        f"r{i}", dnis=spec["dnis"], ani=spec["ani"], ani_list=spec["ani_list"], ani_not_list=ani_not_list,
        queue=spec["queue"] if action in ("queue", "all") else "",
        priority=spec["priority"] if action in ("priority", "all") else 0,
        overflow=spec["overflow"] if action in ("overflow", "all") else "",
        reject=action == "reject")


@settings(max_examples=200, deadline=None)
@given(specs=st.lists(rule_st, max_size=12), ani=st.sampled_from(CALLERS), dnis=st.sampled_from(DIALLED),
       asked=st.sampled_from(["support", "billing"]), cut=st.integers(0, 12))
def test_evaluation_order(specs, ani, dnis, asked, cut):
    rules = [make_rule(i, spec) for i, spec in enumerate(specs)]
    decision = RuleSet(rules, LISTS).evaluate(ani, dnis, asked)
    alone = [RuleSet([rule], LISTS).evaluate(ani, dnis, asked).matched == (rule.name,) for rule in rules]
    # The matching rules, in order, up to and including the first that rejects.
    expected: list[RoutingRule] = []
    for rule, matches in zip(rules, alone):
        if matches:
            expected.append(rule)
            if rule.reject:
                break
    assert decision.matched == tuple(rule.name for rule in expected)
    assert decision.priority_delta == sum(rule.priority for rule in expected)
    assert decision.queue == next((rule.queue for rule in expected if rule.queue), asked)
    assert decision.overflow == next((rule.overflow for rule in expected if rule.overflow), "")
    assert decision.reject_cause == ("CALL_REJECTED" if expected and expected[-1].reject else "")
    # A prefix of the rules decides the prefix of the matches, and rules after a
    # reject change nothing.
    prefix = RuleSet(rules[:cut], LISTS).evaluate(ani, dnis, asked)
    assert prefix.matched == tuple(name for name in decision.matched if int(name[1:]) < cut)
    if decision.rejected:
        assert RuleSet(rules + [RoutingRule("late", priority=9, queue="q9")], LISTS).evaluate(ani, dnis, asked) \
            == decision


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(rule_st, max_size=8), numbers=st.lists(st.from_regex(r"[1-9][0-9]{3,14}", fullmatch=True),
                                                            max_size=5))
def test_rule_sets_round_trip(specs, numbers):
    lists = {"vip": NumberList.of("vip", numbers), "blocked": BLOCKED}
    rules = RuleSet([make_rule(i, spec) for i, spec in enumerate(specs)], lists)
    again = RuleSet.from_dict(json.loads(json.dumps(rules.to_dict())))
    assert again.rules == rules.rules and dict(again.lists) == lists
