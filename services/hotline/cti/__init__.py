"""The CTI service: the gRPC façade for agent desktops and integrators.

- :mod:`hotline.cti.app`       composition root (CtiService)
- :mod:`hotline.cti.api`       the gRPC servicer (hotline.proto.cti.v1.Cti)
- :mod:`hotline.cti.auth`      bearer-token authentication and the role rules
- :mod:`hotline.cti.feed`      the Kafka side: per-agent event fan-out, call history
- :mod:`hotline.cti.customers` the SQLite side: customer records for screen pop
- :mod:`hotline.cti.metrics`   Prometheus metrics
"""
