#!/usr/bin/env bash
# Lint every shell script with ShellCheck: the remote scripts (each with the shared prelude and its
# included fragments, as they are rendered) and the repository's own scripts. Variables of remote
# scripts come from a rendered header, so "not assigned" warnings are off for them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)" >&2; exit 1; }
status=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in configs/scripts/*.sh; do
  case "$(basename "$f")" in lib*.sh) continue ;; esac # fragments are linted where they are included
  {
    echo '#!/usr/bin/env bash'
    cat configs/scripts/lib.sh
    # `# include: lib-<name>.sh` lines replaced by the fragment, as renderScript does.
    awk '/^# include: lib-[a-z-]+\.sh$/ { while ((getline line < ("configs/scripts/" $3)) > 0) print line; next } { print }' "$f"
  } >"$tmp/$(basename "$f")"
  shellcheck -e SC1091,SC2034,SC2153,SC2154 "$tmp/$(basename "$f")" || status=1
done
shellcheck -x scripts/*.sh bench/*.sh .ci/run || status=1
exit "$status"
