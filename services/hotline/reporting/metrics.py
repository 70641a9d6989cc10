"""The reporting service's Prometheus metrics (defined once, here).

Labels are bounded: topic and table names, gRPC method names, never a call
id, agent id or queue name."""
from prometheus_client import Counter, Gauge, Histogram

EVENTS_INGESTED = Counter("hotline_reporting_events_ingested_total",
                          "Events written to ClickHouse, by source topic", ["topic"])
INSERT_SECONDS = Histogram("hotline_reporting_insert_seconds", "Time to insert one batch into one table",
                           ["table"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
INSERT_ERRORS = Counter("hotline_reporting_insert_errors_total",
                        "Batch inserts that failed (the batch is retried, nothing is committed)", ["table"])
DEAD_LETTERS = Counter("hotline_reporting_dead_letters_total",
                       "Dead letters (undecodable messages, from any consumer group) written to "
                       "dead_letters, by the topic they came from", ["source_topic"])
QUERY_SECONDS = Histogram("hotline_reporting_query_seconds", "Time to answer one report request", ["method"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
READY = Gauge("hotline_reporting_ready",
              "1 while ClickHouse answers and its schema is current (health SERVING), else 0")
