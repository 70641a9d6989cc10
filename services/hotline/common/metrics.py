"""The Prometheus /metrics endpoint of a process, and the metrics of the
shared event bus. Each service defines its own metrics in its own
``metrics.py`` (names ``hotline_<service>_<what>_<unit>``, base units,
bounded labels, never a call id); the bus is shared by every service, so its
consumer metrics live here, labelled by consumer group.

Labels of the bus metrics: ``group`` (a consumer group's short name, fixed by
the code: "reporting", "cti-feed", ...), ``topic`` (a short topic name from
hotline.common.topics) and ``partition`` (bounded by the topic's partitions).
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import pkgutil
from typing import Iterable, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "hotline_bus_consumer_lag_records",
    "Records of a partition this consumer group has not yet handled and committed: the partition's "
    "end offset minus the group's first uncommitted offset (updated about once a second)",
    ["group", "topic", "partition"])
RECORDS_CONSUMED = Counter(
    "hotline_bus_records_consumed_total",
    "Records a consumer group handled and committed (at-least-once: a replay counts again)",
    ["group", "topic"])
RECORDS_DEAD_LETTERED = Counter(
    "hotline_bus_records_dead_lettered_total",
    "Records a consumer group could not decode and sent to the dead-letter topic",
    ["group", "topic"])

LagKey = tuple[str, int]     # (short topic name, partition)


def report_lag(group: str, lags: Mapping[LagKey, int], previous: Iterable[LagKey]) -> set[LagKey]:
    """Set the lag gauge of every partition in ``lags`` and drop the series of
    partitions this consumer reported before but no longer holds (after a
    rebalance another process reports them; a stale copy here would be
    counted twice by ``sum``). Returns the partitions now reported."""
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)
    for topic, partition in set(previous) - set(lags):
        forget_lag(group, topic, partition)
    return set(lags)


def forget_lag(group: str, topic: str, partition: int) -> None:
    """Remove one partition's lag series (the consumer stopped or lost it)."""
    try:
        CONSUMER_LAG.remove(group, topic, str(partition))
    except KeyError:
        pass


@dataclasses.dataclass(frozen=True)
class MetricInfo:
    name: str                   # as scraped: counters end in _total
    kind: str                   # counter, gauge, histogram, summary
    labels: tuple[str, ...]
    documentation: str
    series: tuple[str, ...]     # every series name it exports (name_bucket, name_count, ...)


def hotline_metrics(registry: CollectorRegistry = REGISTRY) -> dict[str, MetricInfo]:
    """Every hotline_* metric the services define, by scraped name. Imports
    each ``hotline.<service>.metrics`` module first, so a labelled metric
    without a child yet is listed too (docs and dashboards are checked
    against this). Reads prometheus_client's name -> collector map, the one
    place such a metric is listed."""
    import hotline

    for info in pkgutil.walk_packages(hotline.__path__, "hotline."):
        if info.name.endswith(".metrics"):
            importlib.import_module(info.name)
    by_collector: dict[int, list[str]] = {}
    collectors = {}
    for series, collector in registry._names_to_collectors.items():
        if series.startswith("hotline_"):
            by_collector.setdefault(id(collector), []).append(series)
            collectors[id(collector)] = collector
    out = {}
    for key, collector in collectors.items():
        kind = getattr(collector, "_type", "untyped")
        name = collector._name + ("_total" if kind == "counter" else "")
        out[name] = MetricInfo(name, kind, tuple(getattr(collector, "_labelnames", ())),
                               getattr(collector, "_documentation", ""), tuple(sorted(by_collector[key])))
    return out


def serve(host: str, port: int) -> int | None:
    """Start the /metrics HTTP endpoint; port 0 disables it. Returns the port."""
    if port == 0:
        return None
    server, _thread = start_http_server(port, addr=host)
    bound = server.server_address[1]
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return bound
