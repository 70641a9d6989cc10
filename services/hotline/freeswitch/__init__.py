"""Hotline's FreeSWITCH adapter, on greenswitch's ESL machinery.

- :class:`EslConnection`: inbound event socket (events, api, bgapi), self-healing.
- :class:`OutboundServer` / :class:`OutboundCall`: FreeSWITCH's `socket`
  application connecting to us, one call per connection.
- :func:`hotline.freeswitch.normalize.to_call_event`: FreeSWITCH event -> CallEvent.

Modules: ``protocol`` (frames, parsing, the shared connection machinery),
``inbound``, ``outbound``, ``normalize``, ``errors``.
"""
from hotline.freeswitch.errors import (CallHungUp, CommandFailed, EslAuthError, EslError, EslTimeout,
                                       ProtocolError)
from hotline.freeswitch.inbound import DEFAULT_EVENTS, BackgroundJob, EslConnection
from hotline.freeswitch.outbound import OutboundCall, OutboundServer
from hotline.freeswitch.protocol import EslEvent, parse_frame

__all__ = [
    "BackgroundJob", "CallHungUp", "CommandFailed", "DEFAULT_EVENTS", "EslAuthError", "EslConnection", "EslError",
    "EslEvent", "EslTimeout", "OutboundCall", "OutboundServer", "ProtocolError", "parse_frame",
]
