#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#
#   scripts/docker-engine.sh
#
# - If `docker info` already works: do nothing (a developer's own engine is used as is).
# - Else, when running as root on Debian/Ubuntu: install Debian's `docker.io` if `dockerd`
#   is missing, start `dockerd` in the background and wait until it answers.
# - Otherwise: fail with a message saying what to install.
#
# Idempotent; safe to run on every CI job (background daemons do not survive between jobs).
#
# Environment:
#   DOCKER_ENGINE_TIMEOUT  seconds to wait for the daemon, per attempt (default 60)
#   DOCKER_ENGINE_ATTEMPTS how many times to start dockerd when it exits while starting (default 3)
#   DOCKERD_LOG            daemon log file (default /var/log/dockerd.log as root,
#                          else $HOME/.cache/patroni-stack/dockerd.log)
set -euo pipefail

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

timeout_s="${DOCKER_ENGINE_TIMEOUT:-60}"

command -v docker >/dev/null 2>&1 || die "no 'docker' client on PATH. Install Docker (e.g. 'apt-get install docker.io' on Debian, or Docker Desktop) and re-run."

engine_answers() { docker info >/dev/null 2>&1; }

# `docker version` exercises the client/daemon API negotiation. A client newer than the
# daemon negotiates down automatically; only if that fails do we pin DOCKER_API_VERSION.
check_version() {
    if docker version >/dev/null 2>&1; then
        return 0
    fi
    local api
    api="$(docker version --format '{{.Server.APIVersion}}' 2>/dev/null || true)"
    if [[ -n "$api" ]] && DOCKER_API_VERSION="$api" docker version >/dev/null 2>&1; then
        log "WARNING: client and daemon only agree with DOCKER_API_VERSION=$api; export it in your shell."
        return 0
    fi
    die "'docker version' fails against the running daemon: $(docker version 2>&1 | tail -n 3)"
}

if engine_answers; then
    check_version
    log "engine already running ($(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    die "no Docker engine answers ('docker info' fails) and we are not root, so none can be started here. Start your Docker engine (Docker Desktop, 'sudo systemctl start docker', or install 'docker.io') and re-run."
fi
if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "no Docker engine answers and this is not a Debian-like system; install and start a Docker engine yourself, then re-run."
fi

if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io (dockerd missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends docker.io >&2
    command -v dockerd >/dev/null 2>&1 || die "docker.io installed but 'dockerd' still not on PATH"
fi

if [[ -n "${DOCKERD_LOG:-}" ]]; then
    logfile="$DOCKERD_LOG"
elif [[ -d /var/log && -w /var/log ]]; then
    logfile=/var/log/dockerd.log
else
    logfile="$HOME/.cache/patroni-stack/dockerd.log"
fi
mkdir -p "$(dirname "$logfile")"

start_dockerd() {
    # A stale pid file from a killed daemon makes dockerd refuse to start.
    if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null || echo 0)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    log "starting dockerd (log: $logfile)"
    # setsid + nohup: the daemon must outlive this script and its terminal.
    setsid nohup dockerd >>"$logfile" 2>&1 </dev/null &
}

# dockerd gives up when the containerd it supervises is slow to open its socket (seen on a
# loaded machine right after the package was installed). What such a failed start leaves
# behind (a containerd still starting, its socket and pid file) is removed before the next try.
clean_after_failed_start() {
    pkill -x containerd-shim-runc-v2 2>/dev/null || true
    pkill -f '^containerd --config /var/run/docker/containerd/containerd.toml' 2>/dev/null || true
    sleep 2
    rm -f /var/run/docker/containerd/containerd.sock /var/run/docker/containerd/containerd-debug.sock \
        /var/run/docker/containerd/containerd.pid /var/run/docker.pid
}

# Is a daemon already starting (e.g. from a previous interrupted run)? Then just wait for it.
if pid="$(pgrep -x dockerd 2>/dev/null | head -n 1)" && [[ -n "$pid" ]]; then
    log "dockerd already running as pid $pid, waiting for it to answer"
else
    start_dockerd
fi

attempts="${DOCKER_ENGINE_ATTEMPTS:-3}"
attempt=1
start=$SECONDS
until engine_answers; do
    if (( SECONDS - start >= timeout_s )); then
        die "dockerd did not answer within ${timeout_s}s; see $logfile: $(tail -n 5 "$logfile" 2>/dev/null | tr '\n' ' ')"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        if (( attempt >= attempts )); then
            die "dockerd exited during startup ${attempts} times; last log lines: $(tail -n 10 "$logfile" 2>/dev/null | tr '\n' ' ')"
        fi
        log "dockerd exited during startup (attempt $attempt of $attempts): $(tail -n 1 "$logfile" 2>/dev/null); trying again"
        attempt=$((attempt + 1))
        clean_after_failed_start
        start=$SECONDS
        start_dockerd
    fi
    sleep 1
done
check_version
log "engine ready after $(( SECONDS - start ))s ($(docker version --format 'client {{.Client.Version}} api {{.Client.APIVersion}}, server {{.Server.Version}} api {{.Server.APIVersion}}' 2>/dev/null || echo 'version unknown'))"
