"""A role runs as its own process: `hotline routing` connects to the switch
over ESL, reports SERVING on grpc.health.v1 once connected, NOT_SERVING
while the switch is away, exposes Prometheus metrics, and stops on SIGTERM."""
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hotline.common.grpc import channel

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.freeswitch]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_routing_process_health_follows_the_switch(kafka_bootstrap, topic_prefix, tmp_path):
    from hotline.simulator import Switch

    password = secrets.token_hex(8)
    switch = Switch(password=password, host="127.0.0.1", esl_port=0, hostname="proc")
    switch.start()
    grpc_port, metrics_port = free_port(), free_port()
    env = {**os.environ, "HOTLINE_ESL_PORT": str(switch.esl_port), "HOTLINE_ESL_PASSWORD": password,
           "HOTLINE_ESL_RECONNECT_MIN_S": "0.2", "HOTLINE_ESL_RECONNECT_MAX_S": "1",
           "HOTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HOTLINE_KAFKA_TOPIC_PREFIX": topic_prefix,
           "HOTLINE_GRPC_ROUTING": f"127.0.0.1:{grpc_port}", "HOTLINE_METRICS_PORT": str(metrics_port)}
    log = open(tmp_path / "routing.log", "w")
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "hotline"), "routing"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        health = health_pb2_grpc.HealthStub(channel(f"127.0.0.1:{grpc_port}"))

        def status():
            try:
                return health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
            except Exception:  # noqa: BLE001 - not listening yet
                return None

        wait_for(lambda: status() == health_pb2.HealthCheckResponse.SERVING, timeout=60, what="SERVING")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert 'hotline_routing_switch_connected{node="fs1"} 1.0' in metrics

        switch.stop()        # FreeSWITCH goes away
        wait_for(lambda: status() == health_pb2.HealthCheckResponse.NOT_SERVING, timeout=30, what="NOT_SERVING")
        switch = Switch(password=password, host="127.0.0.1", esl_port=switch.esl_port, hostname="proc")
        switch.start()       # and comes back on the same port
        wait_for(lambda: status() == health_pb2.HealthCheckResponse.SERVING, timeout=30, what="SERVING again")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        switch.stop()
        log.close()
        print(open(tmp_path / "routing.log").read()[-3000:])
