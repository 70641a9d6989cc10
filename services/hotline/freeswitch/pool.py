"""Several FreeSWITCH nodes at once.

A :class:`SwitchPool` holds one :class:`SwitchNode` per node
(``HOTLINE_ESL_NODES``, or the single ``HOTLINE_ESL_HOST:PORT``). Calls may
arrive on any node; a command about a channel must go to the node that owns
it, because a FreeSWITCH node only knows its own channels (``uuid_bridge``
joins two legs of the same node, so an agent leg is originated on the
caller's node).

Who owns a channel: the node whose events named it (learned from every
channel event, forgotten at CHANNEL_DESTROY), or the node a caller said it is
on (``hotline_node`` from the dialplan, carried in Enqueue as ``node_id``).
Handlers get ``(node, event)`` so they know which node spoke.

A node's commands may have a connection of their own. FreeSWITCH writes an
``api`` reply, and a bgapi's BACKGROUND_JOB, on a connection after every
event it queued there before, so on one connection each round trip
(originate, uuid_bridge, ...) waits behind the event backlog. A
:class:`SwitchNode` with a command connection sends api/bgapi on a second
inbound connection subscribed only to BACKGROUND_JOB, and the event
connection does not take BACKGROUND_JOB. The price: a reply may now come
before events FreeSWITCH fired before it, so a caller that must know
everything the switch did before acting asks on the event connection with
``after_events=True`` (``node.show_channels(after_events=True)``). The node
is usable (``connected``) only while both connections are up; its
on_connected callbacks run when both are up again after either was down.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Iterator

import gevent

from hotline.common.errors import ConfigError
from hotline.common.settings import EslSettings
from hotline.freeswitch.errors import EslError
from hotline.freeswitch.inbound import DEFAULT_EVENTS, BackgroundJob, EslConnection
from hotline.freeswitch.protocol import EslEvent

log = logging.getLogger(__name__)

# Forget channel ownership after this many entries when no CHANNEL_DESTROY
# arrives (a node restart, events not subscribed): bounded, oldest first.
MAX_TRACKED_CHANNELS = 200_000


class SwitchNode:
    """One FreeSWITCH node: the connection its events come on and the one
    commands go to (the same connection when there is no command connection)."""

    def __init__(self, events: EslConnection, commands: EslConnection | None = None) -> None:
        if commands is not None and commands is not events:
            if commands.node_id != events.node_id:
                raise ConfigError(f"command connection of node {commands.node_id!r} paired with node "
                                  f"{events.node_id!r}")
            subscribed = (commands.subscription_command() or "").split()[2:]
            if not {"BACKGROUND_JOB", "ALL"} & set(subscribed):
                raise ConfigError(f"the command connection of FreeSWITCH {events.node_id!r} must take "
                                  f"BACKGROUND_JOB (bgapi results)")
        self.node_id = events.node_id
        self.events = events
        self.commands = commands or events
        self.connections: tuple[EslConnection, ...] = (events,) if self.commands is events else (events, self.commands)
        self._usable = False
        self._connected_callbacks: list[Callable[["SwitchNode"], Any]] = []
        self._disconnected_callbacks: list[Callable[["SwitchNode"], Any]] = []
        for conn in self.connections:
            conn.on_connected(self._connection_up)
            conn.on_disconnected(self._connection_down)

    def __repr__(self) -> str:
        return f"<SwitchNode {self.node_id} at {self.events.peer}{' +commands' if len(self.connections) > 1 else ''}>"

    @property
    def peer(self) -> str:
        return self.events.peer

    @property
    def connected(self) -> bool:
        """Usable: events come in and commands go out (every connection is up)."""
        return all(conn.connected for conn in self.connections)

    @property
    def last_error(self) -> str | None:
        return next((conn.last_error for conn in self.connections if conn.last_error), None)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        for conn in self.connections:
            conn.start()

    def stop(self, timeout: float = 2.0) -> None:
        gevent.joinall([gevent.spawn(conn.stop, timeout) for conn in self.connections], timeout=timeout * 3)

    def wait_connected(self, timeout: float | None = None) -> bool:
        waits = [gevent.spawn(conn.wait_connected, timeout) for conn in self.connections]
        gevent.joinall(waits)
        return all(w.value for w in waits)

    def on_event(self, handler: Callable[[EslEvent], Any]) -> None:
        self.events.on_event(handler)

    def on_connected(self, callback: Callable[["SwitchNode"], Any]) -> None:
        """callback(node) each time the node becomes usable: every connection
        is up, after the first start or after any of them was down."""
        self._connected_callbacks.append(callback)

    def on_disconnected(self, callback: Callable[["SwitchNode"], Any]) -> None:
        """callback(node) when a usable node stops being so (a connection went away)."""
        self._disconnected_callbacks.append(callback)

    def _connection_up(self, conn: EslConnection) -> None:
        if not self._usable and self.connected:
            self._usable = True
            self._fire(self._connected_callbacks, "on_connected")

    def _connection_down(self, conn: EslConnection) -> None:
        if self._usable:
            self._usable = False
            if len(self.connections) > 1 and not conn._stopping:
                log.warning("FreeSWITCH %s is not usable while its %s connection is down", self.node_id,
                            "event" if conn is self.events else "command")
            self._fire(self._disconnected_callbacks, "on_disconnected")

    def _fire(self, callbacks: list[Callable[["SwitchNode"], Any]], what: str) -> None:
        for callback in list(callbacks):
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a callback must not stop reconnecting
                log.exception("FreeSWITCH %s %s callback %s failed", self.node_id, what,
                              getattr(callback, "__qualname__", callback))

    # -- commands (on the command connection) ----------------------------------------
    def api(self, cmd: str, timeout: float | None = None, *, after_events: bool = False) -> str:
        """`api <cmd>` on the command connection; after_events=True asks on
        the event connection instead and returns once the events sent before
        the reply have been handled (see EslConnection.api)."""
        if after_events:
            return self.events.api(cmd, timeout, after_events=True)
        return self.commands.api(cmd, timeout)

    def api_ok(self, cmd: str, timeout: float | None = None) -> str:
        return self.commands.api_ok(cmd, timeout)

    def api_nowait(self, cmd: str) -> None:
        self.commands.api_nowait(cmd)

    def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        return self.commands.bgapi(cmd, timeout)

    def bgapi_async(self, cmd: str) -> BackgroundJob:
        return self.commands.bgapi_async(cmd)

    def show_channels(self, timeout: float | None = None, *, after_events: bool = False) -> list[dict[str, Any]]:
        conn = self.events if after_events else self.commands
        return conn.show_channels(timeout, after_events=after_events)

    def show_calls(self, timeout: float | None = None, *, after_events: bool = False) -> list[dict[str, Any]]:
        conn = self.events if after_events else self.commands
        return conn.show_calls(timeout, after_events=after_events)


def _wants_command_connection(events: tuple[str, ...]) -> bool:
    """A separate command connection pays when the event connection carries
    more than bgapi results."""
    return bool(set(events) - {"BACKGROUND_JOB"})


class SwitchPool:
    def __init__(self, nodes: Iterable[SwitchNode | EslConnection]) -> None:
        """nodes: SwitchNodes, or connections (each a node of one connection)."""
        self.nodes: dict[str, SwitchNode] = {}
        for item in nodes:
            node = item if isinstance(item, SwitchNode) else SwitchNode(item)
            if node.node_id in self.nodes:
                raise ConfigError(f"FreeSWITCH node id {node.node_id!r} appears twice")
            self.nodes[node.node_id] = node
        if not self.nodes:
            raise ConfigError("no FreeSWITCH node configured")
        self._owner: dict[str, str] = {}          # channel uuid -> node id (insertion ordered)
        for node in self.nodes.values():
            node.on_event(lambda event, n=node: self._track(n, event))

    @classmethod
    def from_settings(cls, esl: EslSettings, events: Iterable[str] = DEFAULT_EVENTS, *,
                      command_connection: bool | None = None) -> "SwitchPool":
        """One node per configured address. command_connection: give each
        node a second connection for api/bgapi (default: when `events` holds
        more than BACKGROUND_JOB, i.e. when replies would queue behind events)."""
        events = tuple(events)
        if command_connection is None:
            command_connection = _wants_command_connection(events)
        nodes = []
        for address in esl.node_addresses():
            if not command_connection:
                nodes.append(SwitchNode(EslConnection.from_settings(esl, events, node=address)))
                continue
            event_conn = EslConnection.from_settings(esl, tuple(e for e in events if e != "BACKGROUND_JOB"),
                                                     node=address, jobs=False)
            command_conn = EslConnection.from_settings(esl, ("BACKGROUND_JOB",), node=address,
                                                       metrics_label=f"{address[0]}/commands")
            nodes.append(SwitchNode(event_conn, command_conn))
        return cls(nodes)

    def __iter__(self) -> Iterator[SwitchNode]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        for node in self:
            node.start()

    def stop(self, timeout: float = 2.0) -> None:
        gevent.joinall([gevent.spawn(node.stop, timeout) for node in self], timeout=timeout * 3)

    def wait_connected(self, timeout: float | None = None) -> bool:
        """True once every node is connected (within timeout)."""
        waits = [gevent.spawn(node.wait_connected, timeout) for node in self]
        gevent.joinall(waits)
        return all(w.value for w in waits)

    @property
    def connected(self) -> bool:
        """At least one node is usable: new calls can still be served."""
        return any(node.connected for node in self)

    @property
    def all_connected(self) -> bool:
        return all(node.connected for node in self)

    # -- callbacks: fn(node, ...) -----------------------------------------------------
    def on_event(self, handler: Callable[[SwitchNode, EslEvent], Any]) -> None:
        for node in self:
            node.on_event(lambda event, n=node: handler(n, event))

    def on_connected(self, callback: Callable[[SwitchNode], Any]) -> None:
        for node in self:
            node.on_connected(callback)

    def on_disconnected(self, callback: Callable[[SwitchNode], Any]) -> None:
        for node in self:
            node.on_disconnected(callback)

    # -- where commands go -------------------------------------------------------------
    def node(self, node_id: str) -> SwitchNode:
        """A node by id; the only node when id is empty."""
        node = self.nodes.get(node_id)
        if node is not None:
            return node
        if not node_id and len(self.nodes) == 1:
            return next(iter(self.nodes.values()))
        raise EslError(f"unknown FreeSWITCH node {node_id!r} (known: {', '.join(self.nodes)})")

    def owner(self, uuid: str) -> str | None:
        """The id of the node that owns a channel, if known."""
        return self._owner.get(uuid)

    def for_channel(self, uuid: str, node_id: str = "") -> SwitchNode:
        """The node that owns channel `uuid`: the node its events came
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

    def _track(self, node: SwitchNode, event: EslEvent) -> None:
        uuid = event.get("Unique-ID")
        if not uuid:
            return
        if event.name == "CHANNEL_DESTROY":
            self._owner.pop(uuid, None)
        elif uuid not in self._owner:
            self._remember(uuid, node.node_id)

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
