"""The IVR's call flow, free of I/O: a greeting, then a DTMF menu with
retries on no input and on an invalid choice, ending in a queue. The
session (session.py) executes the steps on the call."""
from __future__ import annotations

import dataclasses

from hotline.common.errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class Menu:
    greeting: str
    prompt: str
    invalid_prompt: str
    choices: dict[str, str]          # digit -> queue
    attempts: int = 3
    timeout_ms: int = 5000
    fallback_queue: str = ""         # after the attempts run out; "" = hang up

    def validate(self, known_queues: set[str] | None = None) -> None:
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

    def next_attempt(self) -> bool:
        if self.attempt >= self.menu.attempts:
            return False
        self.attempt += 1
        return True

    def feed(self, digits: str | None) -> Outcome | None:
        """The caller's entry for this attempt (None = nothing pressed).
        Returns the outcome when the menu is over, else None (retry)."""
        if digits and digits in self.menu.choices:
            return Outcome(self.menu.choices[digits], digits, self.attempt, "chosen")
        self.last_problem = "invalid" if digits else "no-input"
        if self.attempt >= self.menu.attempts:
            return Outcome(self.menu.fallback_queue, "", self.attempt, self.last_problem)
        return None
