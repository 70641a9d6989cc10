"""The single-process demo runs on its embedded defaults (in-process bus,
chdb, SQLite, the simulator) and ends with an interval report that adds up."""
import os
import re
import subprocess
import sys

import pytest

from hotline.common import settings as settings_mod
from hotline.common.errors import InvalidArgument
from hotline.demo import Demo, DemoOptions  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.freeswitch]


def test_demo_runs_and_prints_a_consistent_interval_report():
    # Its own process, as a user runs it (and chdb allows one data path per process).
    hotline = os.path.join(os.path.dirname(sys.executable), "hotline")
    done = subprocess.run([hotline, "demo", "--agents", "4", "--rate", "120", "--duration", "8", "--talk", "2",
                           "--seed", "3", "--no-wallboard"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
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
