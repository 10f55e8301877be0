#!/usr/bin/env bash
# After a Pulumi CLI killed in the middle of a run (called by scripts/stack.sh once the lock is
# cancelled): the containers and networks it was creating are removed, since the state never
# recorded them and the next run creates them again under the same names, and the pending
# operations are dropped from the state, as the next run would do after a warning.
#
#   scripts/forget-pending.sh STACK      (in the Pulumi project's directory, with the CLI on PATH)
set -euo pipefail
stack=${1:?usage: scripts/forget-pending.sh STACK}
root=$(cd "$(dirname "$0")/.." && pwd)
ts() { "$root/node_modules/.bin/ts-node" --swc "$@"; }

work=$(umask 077 && mktemp -d)
trap 'rm -rf "$work"' EXIT
pulumi stack export --stack "$stack" --file "$work/export.json"
while read -r kind name; do
  echo "forget-pending: removing the $kind $name, whose creation the killed run did not record" >&2
  case "$kind" in
    container) docker rm -f "$name" >/dev/null 2>&1 || true ;;
    network) docker network rm "$name" >/dev/null 2>&1 || true ;;
  esac
done < <(ts "$root/cli/interrupted.ts" orphans <"$work/export.json")
rc=0
ts "$root/cli/interrupted.ts" cleared <"$work/export.json" >"$work/cleared.json" || rc=$?
case "$rc" in
  0)
    echo "forget-pending: dropping the killed run's pending operations from the state" >&2
    pulumi stack import --stack "$stack" --file "$work/cleared.json" >&2
    ;;
  3) ;; # none pending
  *) exit "$rc" ;;
esac
