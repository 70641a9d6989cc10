"""What the simulated people do: the caller on an inbound call and the agent's phone.

These stand in for the SIP user agents (SIPp in the recorded transcripts):
they press digits, hang up, answer or ignore a ring. Durations here are real
seconds and are not scaled by ``media_scale``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class CallerScript:
    """A scripted caller.

    digits: what the caller presses, one collection after another. If the
        string contains spaces or '|', each part is what one collection
        (one play_and_get_digits try, or one read) gets; otherwise each
        collection takes up to its max_digits from the front of the string.
        An empty script presses nothing, so every collection times out.
    digit_delay_s: how long after the switch starts waiting for input (the
        prompt has finished) the caller starts pressing.
    patience_s: hang up after this long (from the call's start) if the call
        has not been bridged to anybody yet; None waits forever. This is how
        an abandon in queue looks.
    talk_s: hang up this long after the first bridge; None never (the other
        side ends the call).

    A script keeps track of the digits it has pressed: give each call its own.
    """

    digits: str = ""
    digit_delay_s: float = 0.2
    patience_s: float | None = None
    talk_s: float | None = None
    inter_digit_s: float = 0.05
    _chunks: list[str] | None = field(default=None, init=False, repr=False)
    _rest: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if re.search(r"[\s|]", self.digits):
            self._chunks = [c for c in re.split(r"[\s|]+", self.digits) if c]
        else:
            self._rest = self.digits

    def next_collection(self, max_digits: int) -> str:
        """The digits the caller presses for the next collection ('' = nothing)."""
        if self._chunks is not None:
            return self._chunks.pop(0) if self._chunks else ""
        taken, self._rest = self._rest[: max(max_digits, 1)], self._rest[max(max_digits, 1):]
        return taken


@dataclass
class PhoneScript:
    """A registered agent phone (or any endpoint the switch dials).

    answer_after_s: ring this long, then answer (when answers is True).
    answers: False = never answers, so the originate fails with NO_ANSWER
        after its originate_timeout (60 s unless the dial string sets it).
    hangup_after_s: once bridged, the agent hangs up after this long; None = never.
    reject_cause: if set, the phone rejects the call at once with this cause
        (e.g. USER_BUSY, CALL_REJECTED) instead of ringing.
    """

    answer_after_s: float = 0.5
    answers: bool = True
    hangup_after_s: float | None = None
    reject_cause: str | None = None
