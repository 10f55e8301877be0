#!/usr/bin/env bash
# Run a stack with the Pulumi CLI when the pinned toolchain is installed, else with the direct
# runner (runner/cli.ts), which runs the same program without the CLI.
#
#   scripts/stack.sh up|down|preview|refresh|status [STACK]     (STACK defaults to dev)
#
# Environment:
#   PATRONI_STACK_ENGINE=pulumi|direct   force one engine
#   PATRONI_STACK_DIR=DIR                the project directory holding Pulumi.<STACK>.yaml (default:
#                                        this checkout); its Pulumi.yaml points `main` at the program
#   PATRONI_STACK_EVENTS=FILE            write the run's resource operations there (the runner's
#                                        events, or the Pulumi CLI's event log: delete it once read)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
verb=${1:?usage: scripts/stack.sh up|down|preview|refresh|status [STACK]}
stack=${2:-dev}
dir=${PATRONI_STACK_DIR:-$root}
events=${PATRONI_STACK_EVENTS:-}
[ -f "$dir/Pulumi.$stack.yaml" ] || { echo "no stack file $dir/Pulumi.$stack.yaml" >&2; exit 2; }

ts() { "$root/node_modules/.bin/ts-node" --transpile-only "$@"; }

# Local stacks need the base image of their Debian suite (built once, then cached).
suite=$(ts cli/stack-info.ts "$dir" "$stack" suite)
if [ -n "$suite" ] && [ "$verb" != status ]; then scripts/base-image.sh "$suite" >/dev/null; fi

engine=${PATRONI_STACK_ENGINE:-}
if [ -z "$engine" ]; then
  if scripts/toolchain.sh --check 2>/dev/null; then engine=pulumi; else engine=direct; fi
fi

# A `pulumi up` that was killed leaves the stack locked and its plugins running. When the
# process holding the lock no longer runs on this machine, cancel the lock and end the orphaned
# plugins, so that the next run finishes the work (every remote step is safe to re-run).
clear_stale_lock() {
  local locks=${PULUMI_BACKEND_URL#file://}/.pulumi/locks lock pid host
  [ -d "$locks" ] || return 0
  while IFS= read -r lock; do
    pid=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pid || ""' "$lock" 2>/dev/null || true)
    host=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).hostname || ""' "$lock" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$host" = "$(hostname)" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "stack.sh: an earlier run (pid $pid) was interrupted and left the stack locked: pulumi cancel" >&2
      pulumi cancel --yes --stack "$stack" >&2
      pkill -P 1 -f '^pulumi-(resource|language)-' 2>/dev/null || true
    fi
  done < <(find "$locks" -path "*/$stack/*.json" 2>/dev/null)
}

pulumi_run() {
  # shellcheck source=scripts/env.sh
  . scripts/env.sh
  cd "$dir"
  pulumi stack select --create "$stack" >/dev/null
  clear_stale_lock
  local log=()
  if [ -n "$events" ]; then
    # The CLI offers its event log only with debug commands on. Such a log can hold secret values
    # in debug messages: it is made private here, and its reader deletes it once read.
    export PULUMI_DEBUG_COMMANDS=true
    (umask 077 && : >"$events")
    log=(--event-log "$events")
  fi
  case "$verb" in
    up)
      pulumi up --yes --skip-preview --stack "$stack" "${log[@]}"
      pulumi stack output --stack "$stack" --show-secrets --json | (cd "$root" && ts cli/connection.ts "$stack" "$dir")
      ;;
    down) pulumi destroy --yes --skip-preview --stack "$stack" "${log[@]}" ;;
    preview) pulumi preview --diff --stack "$stack" "${log[@]}" ;;
    refresh) pulumi refresh --yes --skip-preview --stack "$stack" "${log[@]}" ;;
  esac
}

direct_run() {
  local args=(--workdir "$dir")
  [ -z "$events" ] || args+=(--events "$events")
  case "$verb" in
    up) ts runner/cli.ts up "$stack" "${args[@]}" ;;
    down) ts runner/cli.ts destroy "$stack" "${args[@]}" ;;
    preview) ts runner/cli.ts preview "$stack" "${args[@]}" ;;
    # The runner checks every host and object on each run: there is nothing to refresh.
    refresh) echo "refresh: the direct runner reads the live objects on every run" ;;
  esac
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

case "$verb" in
  status) status ;;
  up | down | preview | refresh) if [ "$engine" = pulumi ]; then pulumi_run; else direct_run; fi ;;
  *)
    echo "unknown verb '$verb'" >&2
    exit 2
    ;;
esac
