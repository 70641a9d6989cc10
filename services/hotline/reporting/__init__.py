"""Reporting: events from Kafka into ClickHouse, and the reporting gRPC API
(interval reports and today's queue figures) computed from them.

- store: the ClickHouse side (server or embedded chdb), one small interface
- sql: literal quoting shared by both backends
- migrations: numbered, reversible schema migrations and ``hotline migrate``
- ingest: the Kafka consumer's handler (events -> rows)
- formulas: the contact-center figures, pure (docs/metrics.md)
- queries: per-call facts read from ClickHouse, deduplicated
- api: the gRPC servicer
- app: the composition root (ReportingService)
"""
