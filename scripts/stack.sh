#!/usr/bin/env bash
# Run a stack with the Pulumi CLI when the pinned toolchain is available, else with the
# direct runner (runner/cli.ts), which runs the same program without the CLI.
#
#   scripts/stack.sh up|down|preview|status [STACK]     (STACK defaults to dev)
#
# PATRONI_STACK_ENGINE=pulumi|direct forces one engine.
set -euo pipefail
cd "$(dirname "$0")/.."
verb=${1:?usage: scripts/stack.sh up|down|preview|status [STACK]}
stack=${2:-dev}
[ -f "Pulumi.$stack.yaml" ] || { echo "no stack file Pulumi.$stack.yaml" >&2; exit 2; }

# Local stacks need the base image of their Debian suite (built once, then cached).
if grep -q '^  patroni-stack:local:' "Pulumi.$stack.yaml"; then
  suite=$(sed -n 's/^ *suite: *\([a-z]*\).*/\1/p' "Pulumi.$stack.yaml" | head -n 1)
  scripts/base-image.sh "${suite:-bookworm}" >/dev/null
fi

engine=${PATRONI_STACK_ENGINE:-}
if [ -z "$engine" ]; then
  if scripts/toolchain.sh --check >/dev/null 2>&1; then engine=pulumi; else engine=direct; fi
fi

pgpass=".pulumi-state/$stack.pgpass"

pulumi_up() {
  # shellcheck source=scripts/env.sh
  . scripts/env.sh
  pulumi stack select --create "$stack" >/dev/null
  pulumi up --yes --stack "$stack"
  # A pgpass file for psql through HAProxy (the URLs are secret outputs).
  umask 077
  for output in readWriteUrl readOnlyUrl; do
    pulumi stack output --stack "$stack" --show-secrets "$output" |
      sed -E 's#^postgresql://([^:]+):([^@]+)@([^:/]+):([0-9]+)/.*#\3:\4:*:\1:\2#'
  done >"$pgpass"
  local rw ro
  rw=$(sed -n 1p "$pgpass" | cut -d: -f1,2)
  ro=$(sed -n 2p "$pgpass" | cut -d: -f1,2)
  echo
  echo "The cluster is up. Connect through HAProxy:"
  echo "  read-write: PGPASSFILE=$pgpass psql -h ${rw%%:*} -p ${rw##*:} -U postgres postgres"
  echo "  read-only:  PGPASSFILE=$pgpass psql -h ${ro%%:*} -p ${ro##*:} -U postgres postgres"
  echo "  stats:      $(pulumi stack output --stack "$stack" statsUrl)"
}

status() {
  local prefix="patroni-stack-$stack" c
  for c in $(docker ps --format '{{.Names}}' | grep "^$prefix-" | sort); do
    if docker exec "$c" test -f /etc/patroni/patroni.yml 2>/dev/null; then
      docker exec "$c" patronictl -c /etc/patroni/patroni.yml list
      return 0
    fi
  done
  echo "no running Patroni member of stack $stack on this machine's Docker engine" >&2
  return 1
}

run_direct() { npx ts-node --transpile-only runner/cli.ts "$@"; }

case "$engine:$verb" in
  pulumi:up) pulumi_up ;;
  pulumi:down) . scripts/env.sh && pulumi destroy --yes --stack "$stack" ;;
  pulumi:preview) . scripts/env.sh && pulumi stack select --create "$stack" >/dev/null && pulumi preview --stack "$stack" --diff ;;
  direct:up) run_direct up "$stack" ;;
  direct:down) run_direct destroy "$stack" ;;
  direct:preview) run_direct preview "$stack" ;;
  *:status) status ;;
  *) echo "unknown verb '$verb' or engine '$engine'" >&2; exit 2 ;;
esac
