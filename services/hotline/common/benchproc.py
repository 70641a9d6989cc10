"""What the benchmarks that run services as their own processes share:
starting a module in a fresh interpreter (optionally under a CPU-time
profile), reading a process's CPU seconds, and a free loopback port."""
from __future__ import annotations

import os
import socket
import sys
from typing import Sequence

# Runs a module as __main__ under cProfile timed by CPU (process_time), not wall
# time: under gevent a wall-clock profile charges every idle wait to the hub.
PROFILED_MAIN = (
    "import cProfile, runpy, sys, time\n"
    "out, module = sys.argv[1], sys.argv[2]\n"
    "sys.argv = [module, *sys.argv[3:]]\n"
    "profiler = cProfile.Profile(time.process_time)\n"
    "try:\n"
    "    profiler.runcall(runpy.run_module, module, run_name='__main__', alter_sys=True)\n"
    "except SystemExit:\n"
    "    pass\n"
    "finally:\n"
    "    profiler.dump_stats(out)\n"
)


def python_argv(module: str, args: Sequence[str], profile_to: str = "") -> list[str]:
    """`python -m module args` in a fresh interpreter (under a CPU-time cProfile when profile_to is set)."""
    if profile_to:
        return [sys.executable, "-c", PROFILED_MAIN, profile_to, module, *args]
    return [sys.executable, "-m", module, *args]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0.0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
