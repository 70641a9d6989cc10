"""The benchmarks' process helpers: a module in a fresh interpreter (under a
CPU-time profile when asked), a process's CPU seconds, a free port."""
from __future__ import annotations

import os
import pstats
import socket
import subprocess
import sys

from hotline.common import benchproc


def test_python_argv_runs_the_module_and_profiles_it_on_request(tmp_path):
    plain = benchproc.python_argv("json.tool", ["--help"])
    assert plain[:3] == [sys.executable, "-m", "json.tool"]
    assert subprocess.run(plain, capture_output=True).returncode == 0
    out = tmp_path / "tool.prof"
    profiled = benchproc.python_argv("json.tool", ["--help"], str(out))
    assert subprocess.run(profiled, capture_output=True).returncode == 0     # its SystemExit is absorbed
    assert pstats.Stats(str(out)).total_calls > 0


def test_cpu_seconds_of_this_process_and_of_one_that_is_gone():
    assert benchproc.cpu_seconds(os.getpid()) > 0
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert benchproc.cpu_seconds(done.pid) == 0.0


def test_free_port_can_be_bound():
    port = benchproc.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
