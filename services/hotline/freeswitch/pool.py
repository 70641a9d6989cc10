"""Several FreeSWITCH nodes at once.

A :class:`SwitchPool` holds one self-healing :class:`EslConnection` per node
(``HOTLINE_ESL_NODES``, or the single ``HOTLINE_ESL_HOST:PORT``). Calls may
arrive on any node; a command about a channel must go to the node that owns
it, because a FreeSWITCH node only knows its own channels (``uuid_bridge``
joins two legs of the same node, so an agent leg is originated on the
caller's node).

Who owns a channel: the node whose events named it (learned from every
channel event, forgotten at CHANNEL_DESTROY), or the node a caller said it is
on (``hotline_node`` from the dialplan, carried in Enqueue as ``node_id``).
Handlers get ``(connection, event)`` so they know which node spoke.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Iterator

import gevent

from hotline.common.errors import ConfigError
from hotline.common.settings import EslSettings
from hotline.freeswitch.errors import EslError
from hotline.freeswitch.inbound import DEFAULT_EVENTS, EslConnection
from hotline.freeswitch.protocol import EslEvent

log = logging.getLogger(__name__)

# Forget channel ownership after this many entries when no CHANNEL_DESTROY
# arrives (a node restart, events not subscribed): bounded, oldest first.
MAX_TRACKED_CHANNELS = 200_000


class SwitchPool:
    def __init__(self, connections: Iterable[EslConnection]) -> None:
        self.nodes: dict[str, EslConnection] = {}
        for conn in connections:
            if conn.node_id in self.nodes:
                raise ConfigError(f"FreeSWITCH node id {conn.node_id!r} appears twice")
            self.nodes[conn.node_id] = conn
        if not self.nodes:
            raise ConfigError("no FreeSWITCH node configured")
        self._owner: dict[str, str] = {}          # channel uuid -> node id (insertion ordered)
        for conn in self.nodes.values():
            conn.on_event(lambda event, c=conn: self._track(c, event))

    @classmethod
    def from_settings(cls, esl: EslSettings, events: Iterable[str] = DEFAULT_EVENTS) -> "SwitchPool":
        events = tuple(events)
        return cls(EslConnection.from_settings(esl, events, node=node) for node in esl.node_addresses())

    def __iter__(self) -> Iterator[EslConnection]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        for conn in self:
            conn.start()

    def stop(self, timeout: float = 2.0) -> None:
        gevent.joinall([gevent.spawn(conn.stop, timeout) for conn in self], timeout=timeout * 3)

    def wait_connected(self, timeout: float | None = None) -> bool:
        """True once every node is connected (within timeout)."""
        waits = [gevent.spawn(conn.wait_connected, timeout) for conn in self]
        gevent.joinall(waits)
        return all(w.value for w in waits)

    @property
    def connected(self) -> bool:
        """At least one node is up: new calls can still be served."""
        return any(conn.connected for conn in self)

    @property
    def all_connected(self) -> bool:
        return all(conn.connected for conn in self)

    # -- callbacks: fn(connection, ...) ---------------------------------------------
    def on_event(self, handler: Callable[[EslConnection, EslEvent], Any]) -> None:
        for conn in self:
            conn.on_event(lambda event, c=conn: handler(c, event))

    def on_connected(self, callback: Callable[[EslConnection], Any]) -> None:
        for conn in self:
            conn.on_connected(callback)

    def on_disconnected(self, callback: Callable[[EslConnection], Any]) -> None:
        for conn in self:
            conn.on_disconnected(callback)

    # -- where commands go -------------------------------------------------------------
    def node(self, node_id: str) -> EslConnection:
        """The connection to a node by id; the only node when id is empty."""
        conn = self.nodes.get(node_id)
        if conn is not None:
            return conn
        if not node_id and len(self.nodes) == 1:
            return next(iter(self.nodes.values()))
        raise EslError(f"unknown FreeSWITCH node {node_id!r} (known: {', '.join(self.nodes)})")

    def owner(self, uuid: str) -> str | None:
        """The id of the node that owns a channel, if known."""
        return self._owner.get(uuid)

    def for_channel(self, uuid: str, node_id: str = "") -> EslConnection:
        """The connection that owns channel `uuid`: the node its events came
        from, else `node_id`, else the only node."""
        owner = self._owner.get(uuid)
        if owner is not None:
            return self.nodes[owner]
        if node_id or len(self.nodes) == 1:
            return self.node(node_id)
        raise EslError(f"channel {uuid} is not known on any FreeSWITCH node")

    def claim(self, uuid: str, node_id: str) -> None:
        """Record that `uuid` lives on `node_id` (e.g. a leg we originate there)."""
        self._remember(uuid, node_id)

    def _track(self, conn: EslConnection, event: EslEvent) -> None:
        uuid = event.get("Unique-ID")
        if not uuid:
            return
        if event.name == "CHANNEL_DESTROY":
            self._owner.pop(uuid, None)
        elif uuid not in self._owner:
            self._remember(uuid, conn.node_id)

    def _remember(self, uuid: str, node_id: str) -> None:
        self._owner[uuid] = node_id
        if len(self._owner) > MAX_TRACKED_CHANNELS:
            del self._owner[next(iter(self._owner))]

    def forget_node(self, node_id: str, live: set[str]) -> None:
        """After a reconcile of `node_id`: channels not in `live` are gone."""
        for uuid in [u for u, n in self._owner.items() if n == node_id and u not in live]:
            del self._owner[uuid]
        for uuid in live:
            self._owner.setdefault(uuid, node_id)
