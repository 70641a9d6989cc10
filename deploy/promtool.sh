#!/usr/bin/env bash
# promtool, Prometheus's checker, for the test that parses every dashboard's
# PromQL (tests/reporting/test_dashboards.py). Installed from Debian's
# `prometheus` package when missing (first run only); the package's server is
# never started: only the promtool binary is used.
#
#   deploy/promtool.sh install    install if missing, then print promtool's path
set -euo pipefail

die() { echo "promtool: $*" >&2; exit 1; }
as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

cmd_install() {
    if ! command -v promtool >/dev/null; then
        echo "promtool: installing Debian's prometheus package (for promtool)" >&2
        if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            as_root apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o DPkg::Lock::Timeout=300 prometheus >/dev/null || die "apt-get install prometheus failed"
        # Without an init system the package's service does not start; stop it if one did.
        if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
            as_root systemctl stop prometheus || true
        fi
    fi
    command -v promtool || die "promtool is still missing after apt-get install prometheus"
}

case "${1:-}" in
    install) cmd_install ;;
    *) echo "usage: deploy/promtool.sh install" >&2; exit 2 ;;
esac
