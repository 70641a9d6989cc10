"""A process that has imported Hotline and uses gRPC can start child processes.

With gRPC's fork support on (grpcio >= 1.81), a child forked by
subprocess.Popen could abort before exec (grpc/grpc#43055): about 1 in 20
children in a process with a live server and channel. The benchmarks and the
tests start services that way.
"""
import subprocess
import sys

SCRIPT = r"""
import hotline
from hotline.common import runtime
runtime.init()
import subprocess, sys
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

server = grpc.server(futures.ThreadPoolExecutor(2))
health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
failed = []
for i in range(int(sys.argv[1])):
    stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    child = subprocess.run([sys.executable, "-c", "pass"], capture_output=True, text=True)
    if child.returncode != 0:
        failed.append((child.returncode, child.stderr[-300:]))
server.stop(0)
print(len(failed), failed[:2])
"""


def test_children_started_beside_a_live_grpc_server_do_not_abort():
    env = {k: v for k, v in __import__("os").environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, "150"], capture_output=True, text=True, env=env,
                         timeout=300, check=True).stdout
    assert out.startswith("0 "), out
