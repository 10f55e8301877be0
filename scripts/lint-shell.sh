#!/usr/bin/env bash
# Lint every shell script with ShellCheck: the remote scripts (each with the shared prelude, as they are
# rendered) and the repository's own scripts. Variables of remote scripts come from a rendered
# header, so "not assigned" warnings are off for them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)" >&2; exit 1; }
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in configs/scripts/*.sh; do
  [ "$(basename "$f")" = lib.sh ] && continue
  { echo '#!/usr/bin/env bash'; cat configs/scripts/lib.sh "$f"; } >"$tmp/$(basename "$f")"
  shellcheck -e SC1091,SC2034,SC2153,SC2154 "$tmp/$(basename "$f")" || status=1
done
shellcheck -x scripts/*.sh bench/*.sh .ci/run || status=1
exit "$status"
