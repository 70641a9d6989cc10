"""`hotline bench ivr` runs end to end on the in-process bus and prints its
figures (no timing asserted): the IVR in its own interpreter, the simulator here."""
from __future__ import annotations

import pytest

from hotline import cli

pytestmark = pytest.mark.freeswitch


def test_ivr_bench_prints_cpu_and_frames_per_call(capsys):
    assert cli.main(["bench", "ivr", "--calls", "4", "--rate", "4", "--patience", "1.5", "--bus", "memory"]) == 0
    out = capsys.readouterr().out
    assert "IVR alone: 4/4 calls" in out and "frames per call" in out
