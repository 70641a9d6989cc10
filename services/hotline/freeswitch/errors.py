"""Errors of the FreeSWITCH adapter.

They follow hotline.common.errors: a stable ``error_id`` and details, no
transport knowledge. The split that callers care about:

- :class:`EslError` (an :class:`~hotline.common.errors.Unavailable`): the
  switch could not be asked or did not answer (not connected, the connection
  dropped, a timeout). Retrying later may work.
- :class:`CommandFailed`: the switch answered and said no (``-ERR ...``,
  ``-USAGE ...``). Retrying the same thing will not help.
- :class:`CallHungUp`: the call an outbound session controls is gone.
"""
from __future__ import annotations

from greenswitch.esl import OutboundSessionHasGoneAway

from hotline.common.errors import HotlineError, Unavailable


class EslError(Unavailable):
    """FreeSWITCH's event socket is not usable right now."""

    error_id = "esl-unavailable"


class EslTimeout(EslError):
    """FreeSWITCH did not answer in time."""

    error_id = "esl-timeout"


class ProtocolError(EslError):
    """Bytes on the socket that are not an ESL frame; the connection is dropped."""

    error_id = "esl-protocol-error"


class EslAuthError(EslError):
    """The event socket refused our password (or our address)."""

    error_id = "esl-auth-failed"


class CommandFailed(HotlineError):
    """FreeSWITCH executed the command and answered with an error."""

    error_id = "esl-command-failed"

    def __init__(self, reply: str, command: str | None = None) -> None:
        reply = (reply or "").strip()
        what = f"{command!r}: " if command else ""
        super().__init__(f"FreeSWITCH refused {what}{reply}", reply=reply, command=command)
        self.reply = reply
        self.command = command


class CallHungUp(HotlineError, OutboundSessionHasGoneAway):
    """The controlled call hung up (or its socket closed) before the command completed.

    Also a greenswitch ``OutboundSessionHasGoneAway``, so code written against
    greenswitch keeps catching it."""

    error_id = "call-hung-up"

    def __init__(self, uuid: str | None, cause: str | None = None) -> None:
        super().__init__(f"call {uuid or '?'} hung up ({cause or 'connection closed'})",
                         uuid=uuid, cause=cause)
        self.uuid = uuid
        self.cause = cause
