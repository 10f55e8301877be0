#!/usr/bin/env bash
# Install what patroni-stack needs on this machine, skipping what is already there.
#
#   scripts/bootstrap.sh unit   # Node packages and ShellCheck: enough for `make unit`
#   scripts/bootstrap.sh full   # also the Pulumi toolchain, a Docker engine and the base image
#
# Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
level=${1:-full}

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2"); }
need shellcheck shellcheck
need curl curl
# The remote scripts' Python snippets (run by the unit tests here) use the system python3's yaml.
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || apt_packages+=(python3-yaml)
if [ "$level" != unit ]; then
  need psql postgresql-client
  need ssh openssh-client
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing ${apt_packages[*]} (apt)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_packages[@]}" >/dev/null
  else
    die "missing ${apt_packages[*]}: install them with your package manager"
  fi
fi

command -v node >/dev/null || die "Node.js 20 or later is needed (https://nodejs.org or your distribution)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or later is needed, found $(node --version)"

stamp=node_modules/.patroni-stack-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "installing Node packages (npm ci)"
  # Install scripts of @pulumi/* would try to download plugins; they are installed separately.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

[ "$level" = unit ] && exit 0

# The Pulumi CLI and plugins at the pinned versions, when installed (nothing is downloaded).
if ! scripts/toolchain.sh --check 2>/dev/null; then
  log "no Pulumi CLI with the pinned plugins here (scripts/toolchain.sh says how to install them): the direct runner will be used"
fi
scripts/docker-engine.sh
scripts/base-image.sh trixie # the dev stack's suite (other stacks make theirs on first use)
