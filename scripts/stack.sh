#!/usr/bin/env bash
# Run a stack with the Pulumi CLI when the pinned toolchain is installed, else with the direct
# runner (runner/cli.ts), which runs the same program without the CLI.
#
#   scripts/stack.sh [-v] up|down|preview|refresh|status [STACK]     (STACK defaults to dev)
#   scripts/stack.sh secret KEY [STACK] <VALUE                       (an encrypted config value)
#
# `up`, `down` and `refresh` show one line per resource as it starts and ends, and write the
# engine's whole output (every remote step's) to .pulumi-state/logs/<stack>-<verb>-<time>.log;
# -v or VERBOSE=1 streams everything instead. A preview always shows its diffs.
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
verbose=${VERBOSE:-0}
if [ "${1:-}" = -v ]; then
  verbose=1
  shift
fi
verb=${1:?usage: scripts/stack.sh [-v] up|down|preview|refresh|status [STACK] | secret KEY [STACK]}
dir=${PATRONI_STACK_DIR:-$root}
ts_node=("$root/node_modules/.bin/ts-node" --swc)
ts() { "${ts_node[@]}" "$@"; }

# `secret KEY [STACK]`: store patroni-stack:KEY in the stack file encrypted, as `pulumi config set
# --secret` does and readable by either engine. The value comes from standard input (a prompt
# when that is a terminal), never from the command line.
if [ "$verb" = secret ]; then
  key=${2:?usage: scripts/stack.sh secret KEY [STACK] <VALUE}
  stack=${3:-dev}
  # shellcheck source=scripts/passphrase.sh
  . scripts/passphrase.sh
  if [ -t 0 ]; then
    read -rsp "value of $key (not shown): " value
    echo >&2
    printf '%s' "$value" | ts cli/secret.ts "$dir" "$stack" "$key"
  else
    ts cli/secret.ts "$dir" "$stack" "$key"
  fi
  exit
fi
stack=${2:-dev}
events=${PATRONI_STACK_EVENTS:-}
[ -f "$dir/Pulumi.$stack.yaml" ] || { echo "no stack file $dir/Pulumi.$stack.yaml" >&2; exit 2; }

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
# Whether PID runs: a killed CLI that nobody has reaped yet (a zombie) does not.
runs() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

clear_stale_lock() {
  local locks=${PULUMI_BACKEND_URL#file://}/.pulumi/locks lock pid host
  [ -d "$locks" ] || return 0
  while IFS= read -r lock; do
    pid=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pid || ""' "$lock" 2>/dev/null || true)
    host=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).hostname || ""' "$lock" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$host" = "$(hostname)" ] && ! runs "$pid"; then
      echo "stack.sh: an earlier run (pid $pid) was interrupted and left the stack locked: pulumi cancel" >&2
      pulumi cancel --yes --stack "$stack" >&2
      pkill -P 1 -f '^pulumi-(resource|language)-' 2>/dev/null || true
      "$root/scripts/forget-pending.sh" "$stack"
    fi
  done < <(find "$locks" -path "*/$stack/*.json" 2>/dev/null)
}

# Run the engine's command: streamed (-v, previews), or behind the display with a per-run log.
engine_run() {
  if [ "$verbose" = 1 ] || [ "$verb" = preview ]; then
    "$@"
    return
  fi
  local logs="$dir/.pulumi-state/logs"
  mkdir -p "$logs"
  chmod 0700 "$dir/.pulumi-state" "$logs"
  ts "$root/cli/display.ts" --verb "$verb" --events "$event_log" \
    --log "$logs/$stack-$verb-$(date +%Y%m%dT%H%M%S).log" -- "$@"
}

# The display follows an event log in the Pulumi CLI's shape. With the CLI it is the one the
# caller asked for (PATRONI_STACK_EVENTS) when there is one; the runner writes a separate one.
event_log=""
if [ "$verbose" != 1 ] && [ "$verb" != preview ] && [ "$verb" != status ]; then
  if [ "$engine" = pulumi ] && [ -n "$events" ]; then
    event_log=$events
  else
    event_log=$(mktemp)
    trap 'rm -f "$event_log"' EXIT
  fi
elif [ "$engine" = pulumi ]; then
  event_log=$events
fi

pulumi_run() {
  # shellcheck source=scripts/env.sh
  . scripts/env.sh
  # The CLI runs in a copy of the project, so that the salt it records stays out of the stack file.
  cd "$(ts cli/stack-info.ts "$dir" "$stack" pulumi-project)"
  pulumi stack select --create "$stack" >/dev/null
  clear_stale_lock
  local log=()
  if [ -n "$event_log" ]; then
    # The CLI offers its event log only with debug commands on. Such a log can hold secret values
    # in debug messages: it is made private here, and its reader deletes it once read.
    export PULUMI_DEBUG_COMMANDS=true
    (umask 077 && : >"$event_log")
    log=(--event-log "$event_log")
  fi
  case "$verb" in
    up)
      engine_run pulumi up --yes --skip-preview --stack "$stack" "${log[@]}"
      pulumi stack output --stack "$stack" --show-secrets --json | (cd "$root" && ts cli/connection.ts "$stack" "$dir")
      ;;
    down) engine_run pulumi destroy --yes --skip-preview --stack "$stack" "${log[@]}" ;;
    preview) pulumi preview --diff --stack "$stack" "${log[@]}" ;;
    refresh) engine_run pulumi refresh --yes --skip-preview --stack "$stack" "${log[@]}" ;;
  esac
}

direct_run() {
  # shellcheck source=scripts/passphrase.sh
  . scripts/passphrase.sh
  local args=(--workdir "$dir")
  [ -z "$events" ] || args+=(--events "$events")
  local quiet=()
  [ -z "$event_log" ] || quiet=(--event-log "$event_log")
  case "$verb" in
    up)
      engine_run "${ts_node[@]}" runner/cli.ts up "$stack" "${args[@]}" "${quiet[@]}"
      if [ "${#quiet[@]}" -gt 0 ]; then
        ts cli/connection.ts "$stack" "$dir" <"$dir/.pulumi-state/direct/$stack.outputs.json"
      fi
      ;;
    down) engine_run "${ts_node[@]}" runner/cli.ts destroy "$stack" "${args[@]}" "${quiet[@]}" ;;
    preview) ts runner/cli.ts preview "$stack" "${args[@]}" ;;
    # The runner checks every host and object on each run: there is nothing to refresh.
    refresh) echo "refresh: the direct runner reads the live objects on every run" ;;
  esac
}

# patronictl list on the first member that answers (the ctl command's `list`).
status() { STACK=$stack PATRONI_STACK_DIR=$dir ts cli/ctl.ts list; }

case "$verb" in
  status) status ;;
  up | down | preview | refresh) if [ "$engine" = pulumi ]; then pulumi_run; else direct_run; fi ;;
  *)
    echo "unknown verb '$verb'" >&2
    exit 2
    ;;
esac
