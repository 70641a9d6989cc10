"""The IVR's call flow, free of I/O: a greeting, then a DTMF menu with
retries on no input and on an invalid choice, ending in a queue (or a
goodbye). The session (session.py) executes the steps on the call; a
Journey records the nodes the caller passes through, which reporting counts
as IVR node visits (containment, drop-off per node: docs/metrics.md)."""
from __future__ import annotations

import dataclasses
import re
from typing import Callable

from hotline.common.errors import InvalidArgument

# The built-in flow's nodes: (name, type). Names are stable because reports
# group by them; types are IvrNodeVisit.node_type's vocabulary.
GREETING = ("greeting", "play")
MENU = ("menu", "menu")
GOODBYE = ("goodbye", "hangup")
QUEUE = ("queue", "queue")

# How a caller leaves a node (IvrNodeVisit.outcome, events.proto).
NEXT = "next"              # went on in the flow
QUEUED = "queued"          # handed to a queue
COMPLETED = "completed"    # the flow ended here (self-service done)
HANGUP = "hangup"          # the caller hung up in this node (drop-off)
ERROR = "error"            # the IVR failed in this node
OUTCOMES = (NEXT, QUEUED, COMPLETED, HANGUP, ERROR)

DEFAULT_FLOW = "main"
_FLOW_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclasses.dataclass(frozen=True)
class Menu:
    greeting: str
    prompt: str
    invalid_prompt: str
    choices: dict[str, str]          # digit -> queue
    attempts: int = 3
    timeout_ms: int = 5000
    fallback_queue: str = ""         # after the attempts run out; "" = hang up
    name: str = DEFAULT_FLOW         # the flow's name: the channel's hotline_ivr_flow, reports' flow

    def validate(self, known_queues: set[str] | None = None) -> None:
        if not _FLOW_NAME.fullmatch(self.name):
            raise InvalidArgument("menu.name", "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-'")
        if not self.choices:
            raise InvalidArgument("menu.choices", "needs at least one digit")
        for digit, queue in self.choices.items():
            if len(digit) != 1 or digit not in "0123456789*#":
                raise InvalidArgument(f"menu.choices[{digit}]", "must be one DTMF digit")
            if known_queues is not None and queue not in known_queues:
                raise InvalidArgument(f"menu.choices[{digit}]", f"no queue named {queue!r}")
        if not 1 <= self.attempts <= 10:
            raise InvalidArgument("menu.attempts", "must be between 1 and 10")
        if not 1000 <= self.timeout_ms <= 60000:
            raise InvalidArgument("menu.timeout_ms", "must be between 1000 and 60000")
        if self.fallback_queue and known_queues is not None and self.fallback_queue not in known_queues:
            raise InvalidArgument("menu.fallback_queue", f"no queue named {self.fallback_queue!r}")


@dataclasses.dataclass(frozen=True)
class Outcome:
    queue: str                 # "" = the caller is let go
    choice: str                # the digit that chose it, "" when none
    attempts_used: int
    reason: str                # "chosen", "no-input", "invalid"


class MenuRun:
    """Feeds one attempt's result at a time; says what to do next."""

    def __init__(self, menu: Menu) -> None:
        self.menu = menu
        self.attempt = 0
        self.last_problem = ""
        self.last_input = ""         # the last digits keyed, valid or not


    def next_attempt(self) -> bool:
        if self.attempt >= self.menu.attempts:
            return False
        self.attempt += 1
        return True

    def feed(self, digits: str | None) -> Outcome | None:
        """The caller's entry for this attempt (None = nothing pressed).
        Returns the outcome when the menu is over, else None (retry)."""
        self.last_input = digits or self.last_input
        if digits and digits in self.menu.choices:
            return Outcome(self.menu.choices[digits], digits, self.attempt, "chosen")
        self.last_problem = "invalid" if digits else "no-input"
        if self.attempt >= self.menu.attempts:
            return Outcome(self.menu.fallback_queue, "", self.attempt, self.last_problem)
        return None


@dataclasses.dataclass(frozen=True)
class NodeVisit:
    """One node a caller passed through, closed (IvrNodeVisit without the call's identity)."""
    node: str
    node_type: str
    sequence: int              # 1 = the call's first node
    entered_us: int
    left_us: int
    outcome: str               # one of OUTCOMES
    input: str = ""
    attempts: int = 0
    result: str = ""


class Journey:
    """The nodes one caller passes through, in order, one open at a time.

    The session enters a node before acting in it and leaves it with an
    outcome once it is done; visits are numbered from ``first_sequence`` (a
    caller sent back to the IVR by a queue's overflow goes on from their
    earlier visits, so every visit of a call keeps its own event id); if the call ends abruptly (hang-up, failure),
    ``close`` leaves the open node with that outcome, so every node entered
    yields exactly one visit and an unfinished node is never lost. ``note``
    keeps what the caller did so far (a hang-up mid-menu still reports the
    attempts used)."""

    def __init__(self, clock_us: Callable[[], int], first_sequence: int = 1) -> None:
        self.clock_us = clock_us
        self.first_sequence = first_sequence
        self.visits: list[NodeVisit] = []
        self._open: tuple[str, str, int] | None = None
        self._details: dict[str, str | int] = {}

    @property
    def current(self) -> str | None:
        return self._open[0] if self._open else None

    @property
    def next_sequence(self) -> int:
        return self.first_sequence + len(self.visits)

    def enter(self, node: tuple[str, str]) -> None:
        if self._open is not None:
            raise RuntimeError(f"IVR node {node[0]!r} entered while {self._open[0]!r} is still open")
        self._open = (node[0], node[1], self.clock_us())
        self._details = {}

    def note(self, **details: str | int) -> None:
        """Input/attempts/result of the open node so far."""
        self._details.update(details)

    def leave(self, outcome: str, **details: str | int) -> NodeVisit:
        if self._open is None:
            raise RuntimeError(f"no IVR node is open to leave with {outcome!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown IVR outcome {outcome!r}")
        name, node_type, entered_us = self._open
        self.note(**details)
        visit = NodeVisit(name, node_type, self.next_sequence, entered_us, self.clock_us(), outcome,
                          input=str(self._details.get("input", "")), attempts=int(self._details.get("attempts", 0)),
                          result=str(self._details.get("result", "")))
        self.visits.append(visit)
        self._open = None
        return visit

    def close(self, outcome: str) -> NodeVisit | None:
        """Leave the open node, if any, with ``outcome`` (hangup or error)."""
        return self.leave(outcome) if self._open is not None else None
