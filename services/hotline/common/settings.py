"""Typed settings, loaded once at start-up.

Precedence: defaults < TOML file (``HOTLINE_CONFIG`` or ``--config``) <
environment (``HOTLINE_<SECTION>_<FIELD>``, e.g. ``HOTLINE_ESL_PORT=8021``).
A bad value fails fast with the variable's name and what was expected. Each
component receives only its own section. Secrets (the ESL password, API
tokens) have no default: they come from the environment or the file.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import tomllib
import typing
from typing import Any, Mapping

from hotline.common.errors import ConfigError

PREFIX = "HOTLINE_"


@dataclasses.dataclass(frozen=True)
class EslSettings:
    """Inbound event socket of the FreeSWITCH node(s) Hotline controls."""

    host: str = "127.0.0.1"
    port: int = 8021
    password: str | None = None          # secret: HOTLINE_ESL_PASSWORD
    node_id: str = "fs1"                 # Hotline's name for this FreeSWITCH node
    connect_timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    api_timeout_s: float = 10.0
    # Several FreeSWITCH nodes: "fs1=10.0.0.1:8021,fs2=10.0.0.2:8021" (same
    # password). Empty: the one node at host:port named node_id.
    nodes: str = ""
    # Events read from FreeSWITCH but not yet handled; when full, Hotline stops
    # reading the socket and FreeSWITCH queues them (back-pressure).
    max_event_backlog: int = 10000
    # How FreeSWITCH sends events: json (parsed about 5x faster than plain) or plain.
    event_format: str = "json"

    def node_addresses(self) -> list[tuple[str, str, int]]:
        """[(node_id, host, port)] of every FreeSWITCH node Hotline controls."""
        if not self.nodes.strip():
            return [(self.node_id, self.host, self.port)]
        return parse_nodes(self.nodes)

    def require_password(self) -> str:
        if not self.password:
            raise ConfigError("HOTLINE_ESL_PASSWORD is not set: the ESL password comes from the environment")
        return self.password


@dataclasses.dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:19092"
    client_id: str = "hotline"
    topic_prefix: str = "hotline."
    max_batch: int = 500
    # How long the producer gathers records into one request (kafka-python's
    # linger_ms): longer means fewer produce requests, less CPU per event for
    # the service and the broker, and events reach the topic up to that later.
    # 10 ms: routing 10.8-11.1 -> 8.7-10.0 ms of CPU per call at 30 calls/s in
    # the e2e bench (kafka-python's cost is mostly per sender wake-up), queue-to-
    # bridge unchanged; 25 ms gained nothing more (docs/performance.md).
    linger_ms: int = 10


@dataclasses.dataclass(frozen=True)
class ClickHouseSettings:
    host: str = "127.0.0.1"
    port: int = 19000                     # native protocol
    database: str = "hotline"
    user: str = "default"
    password: str = ""
    # "server" (clickhouse-driver, native protocol) or "embedded" (chdb).
    backend: str = "server"
    embedded_path: str = ""              # chdb data directory; empty = in memory


@dataclasses.dataclass(frozen=True)
class GrpcEndpoints:
    """Where each service listens (and where the others find it)."""

    routing: str = "127.0.0.1:50061"
    cti: str = "127.0.0.1:50062"
    reporting: str = "127.0.0.1:50063"
    recording: str = "127.0.0.1:50064"
    ivr: str = "127.0.0.1:50065"


@dataclasses.dataclass(frozen=True)
class IvrSettings:
    # The address FreeSWITCH's `socket` dialplan application connects to.
    socket_host: str = "127.0.0.1"
    socket_port: int = 9090
    greeting: str = "ivr/ivr-welcome_to_freeswitch.wav"
    menu_prompt: str = "ivr/ivr-please_choose_from_the_following.wav"
    invalid_prompt: str = "ivr/ivr-that_was_an_invalid_entry.wav"
    goodbye_prompt: str = "voicemail/vm-goodbye.wav"
    menu_timeout_ms: int = 5000
    menu_attempts: int = 3
    # digit=queue pairs
    menu: str = "1=sales,2=support"
    default_queue: str = "support"       # after the retries run out with no valid choice
    flow: str = "main"                   # the flow's name in IVR node visits and CDRs (reports by flow)


@dataclasses.dataclass(frozen=True)
class RoutingSettings:
    tick_s: float = 0.2                  # how often the ACD re-examines waiting calls
    default_ring_timeout_s: int = 15
    hold_music: str = "local_stream://moh"
    # queue definitions at start: "name:skill[:sl_threshold_s[:wrap_up_s]],..."
    queues: str = "sales:sales,support:support"
    # agents at start: "id:contact:skill=level+skill=level,..." (usually set over gRPC)
    agents: str = ""
    # Text-to-speech for announcements and callback prompts: "<engine>|<voice>" (mod_flite).
    tts: str = "flite|kal"
    # Overflow to voicemail:<box> / ivr:<flow> transfers the caller to the
    # extension "<prefix><box or flow>" in this dialplan context (freeswitch/conf/dialplan/hotline-overflow.xml).
    overflow_context: str = "hotline-overflow"
    voicemail_prefix: str = "hotline-voicemail-"
    ivr_prefix: str = "hotline-ivr-"
    # Caller ID shown to customers on callbacks; empty: the number they called.
    callback_caller_id: str = ""
    callback_ring_timeout_s: int = 30
    # How far back routing reads agent and queue events to rebuild its state after a restart.
    rebuild_lookback_s: int = 86_400


@dataclasses.dataclass(frozen=True)
class RecordingSettings:
    directory: str = "/var/lib/freeswitch/recordings"
    stereo: bool = True


@dataclasses.dataclass(frozen=True)
class CtiSettings:
    # "token:role[:agent_id],..." roles: agent, supervisor, admin, integration.
    tokens: str | None = None            # secret: HOTLINE_CTI_TOKENS
    customers_db: str = "var/customers.sqlite3"


@dataclasses.dataclass(frozen=True)
class ReportingSettings:
    """Defaults of the reports (docs/metrics.md): thresholds in seconds, multiples
    of 5 up to 300 because the roll-ups keep queue waits in 5-second slots."""

    service_level_threshold_s: int = 20
    batch_size: int = 1000
    batch_timeout_s: float = 0.5
    short_abandon_s: int = 5             # abandons at or under this wait are short (-1: none)

    def __post_init__(self) -> None:
        for name in ("service_level_threshold_s", "short_abandon_s"):
            value = getattr(self, name)
            if name == "short_abandon_s" and value == -1:
                continue
            if not 0 <= value <= 300 or value % 5:
                raise ConfigError(f"HOTLINE_REPORTING_{name.upper()}={value}: expected a multiple of 5 "
                                  "between 0 and 300" + (" (or -1: no short abandons)"
                                                         if name == "short_abandon_s" else ""))


@dataclasses.dataclass(frozen=True)
class MetricsSettings:
    host: str = "127.0.0.1"
    port: int = 9464                     # Prometheus /metrics; 0 disables


@dataclasses.dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    json: bool = True


@dataclasses.dataclass(frozen=True)
class Settings:
    esl: EslSettings = EslSettings()
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    grpc: GrpcEndpoints = GrpcEndpoints()
    ivr: IvrSettings = IvrSettings()
    routing: RoutingSettings = RoutingSettings()
    recording: RecordingSettings = RecordingSettings()
    cti: CtiSettings = CtiSettings()
    reporting: ReportingSettings = ReportingSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()


def _convert(name: str, raw: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
        if raw is None or raw == "":
            return None
        (annotation,) = [a for a in args if a is not type(None)]
    try:
        if annotation is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true/false")
        if annotation is int:
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(str(raw).strip())
        if annotation is float:
            return float(str(raw).strip())
        if annotation is str:
            if not isinstance(raw, (str, int, float)):
                raise ValueError("expected a string")
            return str(raw)
    except ValueError as exc:
        kind = getattr(annotation, "__name__", str(annotation))
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}: {exc}") from None
    raise ConfigError(f"{name}: unsupported setting type {annotation!r}")


def load(env: Mapping[str, str] | None = None, config_file: str | os.PathLike[str] | None = None) -> Settings:
    """Build Settings from defaults, an optional TOML file and the environment."""
    env = os.environ if env is None else env
    config_file = config_file or env.get(PREFIX + "CONFIG") or None
    file_values: dict[str, Any] = {}
    if config_file:
        path = pathlib.Path(config_file)
        try:
            file_values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    known_env = set()
    for section_field in dataclasses.fields(Settings):
        cls = hints[section_field.name]
        section_hints = typing.get_type_hints(cls)
        from_file = file_values.get(section_field.name, {})
        if not isinstance(from_file, dict):
            raise ConfigError(f"config file: [{section_field.name}] must be a table")
        unknown = set(from_file) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"config file: unknown setting(s) {sorted(unknown)} in [{section_field.name}]")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env_name = f"{PREFIX}{section_field.name}_{f.name}".upper()
            known_env.add(env_name)
            if env_name in env:
                values[f.name] = _convert(env_name, env[env_name], section_hints[f.name])
            elif f.name in from_file:
                values[f.name] = _convert(f"[{section_field.name}] {f.name}", from_file[f.name], section_hints[f.name])
        sections[section_field.name] = cls(**values)
    settings = Settings(**sections)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    def port(name: str, value: int, allow_zero: bool = False) -> None:
        if not ((allow_zero and value == 0) or 0 < value < 65536):
            raise ConfigError(f"{name}={value} is not a TCP port (1-65535)")

    port("HOTLINE_ESL_PORT", s.esl.port)
    port("HOTLINE_CLICKHOUSE_PORT", s.clickhouse.port)
    port("HOTLINE_IVR_SOCKET_PORT", s.ivr.socket_port, allow_zero=True)
    port("HOTLINE_METRICS_PORT", s.metrics.port, allow_zero=True)
    if s.clickhouse.backend not in ("server", "embedded"):
        raise ConfigError(f"HOTLINE_CLICKHOUSE_BACKEND={s.clickhouse.backend!r}: expected 'server' or 'embedded'")
    if s.log.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"HOTLINE_LOG_LEVEL={s.log.level!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if s.esl.reconnect_min_s <= 0 or s.esl.reconnect_max_s < s.esl.reconnect_min_s:
        raise ConfigError("HOTLINE_ESL_RECONNECT_MIN_S must be > 0 and <= HOTLINE_ESL_RECONNECT_MAX_S")
    s.esl.node_addresses()
    if s.esl.event_format not in ("json", "plain"):
        raise ConfigError(f"HOTLINE_ESL_EVENT_FORMAT={s.esl.event_format!r}: expected json or plain")
    if not 0 < s.esl.max_event_backlog <= 1_000_000:
        raise ConfigError(f"HOTLINE_ESL_MAX_EVENT_BACKLOG={s.esl.max_event_backlog} must be between 1 and 1000000")
    if not 0 <= s.kafka.linger_ms <= 1000:
        raise ConfigError(f"HOTLINE_KAFKA_LINGER_MS={s.kafka.linger_ms} must be between 0 and 1000")
    if s.routing.tick_s <= 0:
        raise ConfigError(f"HOTLINE_ROUTING_TICK_S={s.routing.tick_s} must be > 0")
    if "|" not in s.routing.tts or " " in s.routing.tts or "'" in s.routing.tts:
        raise ConfigError(f"HOTLINE_ROUTING_TTS={s.routing.tts!r}: expected <engine>|<voice>, e.g. flite|kal")
    if not 5 <= s.routing.callback_ring_timeout_s <= 120:
        raise ConfigError(f"HOTLINE_ROUTING_CALLBACK_RING_TIMEOUT_S={s.routing.callback_ring_timeout_s} "
                          "must be between 5 and 120")
    if not 60 <= s.routing.rebuild_lookback_s <= 30 * 86_400:
        raise ConfigError(f"HOTLINE_ROUTING_REBUILD_LOOKBACK_S={s.routing.rebuild_lookback_s} "
                          "must be between 60 and 2592000")
    for name, value in dataclasses.asdict(s.grpc).items():
        host, sep, p = value.rpartition(":")
        if not sep or not host or not p.isdigit():
            raise ConfigError(f"HOTLINE_GRPC_{name.upper()}={value!r}: expected host:port")
        port(f"HOTLINE_GRPC_{name.upper()}", int(p), allow_zero=True)
    parse_menu(s.ivr.menu)
    parse_queue_specs(s.routing.queues)
    if s.cti.tokens:
        parse_tokens(s.cti.tokens)


def parse_nodes(text: str) -> list[tuple[str, str, int]]:
    """"fs1=10.0.0.1:8021,fs2=[fd00::2]:8021" -> [(node_id, host, port)]."""
    nodes: list[tuple[str, str, int]] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        node_id, sep, address = item.partition("=")
        host, colon, port = address.rpartition(":")
        host = host.strip("[]")
        if not sep or not node_id.replace("-", "").replace("_", "").isalnum() or not colon or not host \
                or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"HOTLINE_ESL_NODES: {item!r} is not node_id=host:port")
        if any(node_id == n for n, _, _ in nodes):
            raise ConfigError(f"HOTLINE_ESL_NODES: node id {node_id!r} appears twice")
        nodes.append((node_id, host, int(port)))
    if not nodes:
        raise ConfigError("HOTLINE_ESL_NODES has no node_id=host:port entries")
    return nodes


def parse_menu(text: str) -> dict[str, str]:
    """"1=sales,2=support" -> {"1": "sales", "2": "support"}."""
    menu: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        digit, sep, queue = item.partition("=")
        if not sep or len(digit) != 1 or digit not in "0123456789*#" or not queue:
            raise ConfigError(f"HOTLINE_IVR_MENU: {item!r} is not digit=queue")
        menu[digit] = queue
    if not menu:
        raise ConfigError("HOTLINE_IVR_MENU is empty: expected digit=queue pairs")
    return menu


def parse_queue_specs(text: str) -> list[dict[str, Any]]:
    """"sales:sales:20:5,support:support" -> queue dicts."""
    queues = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        parts = item.split(":")
        if len(parts) < 2 or len(parts) > 4 or not all(parts[:2]):
            raise ConfigError(f"HOTLINE_ROUTING_QUEUES: {item!r} is not name:skill[:sl_threshold_s[:wrap_up_s]]")
        try:
            nums = [int(x) for x in parts[2:]]
        except ValueError:
            raise ConfigError(f"HOTLINE_ROUTING_QUEUES: {item!r} has a non-integer threshold or wrap-up") from None
        queues.append({"name": parts[0], "skill": parts[1],
                       "service_level_threshold_s": nums[0] if nums else 20,
                       "wrap_up_s": nums[1] if len(nums) > 1 else 0})
    return queues


ROLES = ("agent", "supervisor", "admin", "integration")


def parse_tokens(text: str) -> dict[str, tuple[str, str | None]]:
    """"tok1:agent:1001,tok2:supervisor" -> {token: (role, agent_id)}."""
    tokens: dict[str, tuple[str, str | None]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        parts = item.split(":")
        if len(parts) not in (2, 3) or parts[1] not in ROLES or not parts[0]:
            raise ConfigError(f"HOTLINE_CTI_TOKENS: an entry is not token:role[:agent_id] with role in {ROLES}")
        if parts[1] == "agent" and (len(parts) != 3 or not parts[2]):
            raise ConfigError("HOTLINE_CTI_TOKENS: an agent token needs its agent id (token:agent:agent_id)")
        tokens[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else None)
    return tokens
