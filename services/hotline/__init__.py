"""Hotline: an open-source contact-center control plane around FreeSWITCH."""
import os as _os

# gRPC's core registers pthread_atfork handlers that restart its epoll poller
# thread in a forked child. subprocess.Popen forks, closes the child's file
# descriptors (close_fds), then execs: a poller restarted in between finds its
# epoll fd closed and aborts the child (SIGABRT, "Epoll1Poller ... epoll_wait
# error: Bad file descriptor"; grpc/grpc#43055, grpcio 1.81 onwards). Hotline
# never uses gRPC in a forked child, so fork support is off unless the
# environment says otherwise. This must run before grpc is imported: importing
# hotline does it first.
_os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"
