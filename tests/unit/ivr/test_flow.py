import pytest

from hotline.common.errors import InvalidArgument
from hotline.ivr.flow import Menu, MenuRun

MENU = Menu(greeting="g.wav", prompt="p.wav", invalid_prompt="i.wav", choices={"1": "sales", "2": "support"},
            attempts=3, fallback_queue="support")


def run(entries):
    r = MenuRun(MENU)
    for entry in entries:
        assert r.next_attempt()
        out = r.feed(entry)
        if out:
            return out
    return None


def test_valid_choice_routes_to_its_queue():
    out = run(["1"])
    assert (out.queue, out.choice, out.attempts_used, out.reason) == ("sales", "1", 1, "chosen")


def test_retries_on_no_input_and_invalid_then_accepts():
    out = run([None, "7", "2"])
    assert (out.queue, out.attempts_used) == ("support", 3)


def test_attempts_run_out_to_the_fallback_queue():
    out = run([None, "9", None])
    assert (out.queue, out.choice, out.reason) == ("support", "", "no-input")
    out = run(["9", "9", "9"])
    assert out.reason == "invalid"


def test_menu_validation_names_the_bad_node():
    with pytest.raises(InvalidArgument) as e:
        Menu("g", "p", "i", {"12": "sales"}).validate()
    assert e.value.field == "menu.choices[12]"
    with pytest.raises(InvalidArgument) as e:
        Menu("g", "p", "i", {"1": "nope"}).validate({"sales"})
    assert e.value.field == "menu.choices[1]"
