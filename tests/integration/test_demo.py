"""The single-process demo runs on its embedded defaults (in-process bus,
chdb, SQLite, the simulator) and ends with an interval report that adds up."""
import io
import re

import pytest

from hotline.common import settings as settings_mod
from hotline.common.errors import InvalidArgument
from hotline.demo import Demo, DemoOptions

pytestmark = [pytest.mark.integration, pytest.mark.freeswitch]


def test_demo_runs_and_prints_a_consistent_interval_report():
    out = io.StringIO()
    options = DemoOptions(agents=4, calls_per_minute=120, duration_s=8, seed=3, mean_talk_s=2.0,
                          mean_patience_s=20, wallboard=False, media_scale=0.2, drain_s=40)
    assert Demo(settings_mod.load({}), options, out=out).run() == 0
    text = out.getvalue()
    assert "Interval report" in text
    total = re.search(r"^total\s+all\s+(\d+)\s+(\d+)\s+(\d+)\s", text, re.M)
    assert total, text
    offered, answered, abandoned = map(int, total.groups())
    assert offered > 0 and answered > 0
    assert answered + abandoned <= offered
    assert "sales" in text and "support" in text


def test_demo_options_are_validated():
    with pytest.raises(InvalidArgument) as e:
        Demo(settings_mod.load({}), DemoOptions(agents=0))
    assert e.value.field == "--agents"
