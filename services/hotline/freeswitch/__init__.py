"""Hotline's FreeSWITCH adapter, on greenswitch's ESL machinery.

Modules: ``protocol`` (frames, parsing, the shared connection machinery),
``errors``.
"""
from hotline.freeswitch.errors import (CallHungUp, CommandFailed, EslAuthError, EslError, EslTimeout,
                                       ProtocolError)
from hotline.freeswitch.protocol import EslEvent, parse_frame

__all__ = ["CallHungUp", "CommandFailed", "EslAuthError", "EslError", "EslEvent", "EslTimeout", "ProtocolError",
           "parse_frame"]
