#!/usr/bin/env bash
# scripts/toolchain.sh - find the Pulumi CLI and the plugins this project pins.
#
# The versions come from the npm packages (node_modules/@pulumi/*/package.json, else the
# exact pins in package.json): the CLI and its Node.js language host at @pulumi/pulumi's
# version, and the resource plugins command, random and docker at theirs.
#
# Looks for `pulumi` on PATH, then in $PULUMI_HOME/bin (default ~/.pulumi/bin). The language
# host must sit beside the CLI (or on PATH); each resource plugin must be installed in the
# plugin cache at exactly its version (`pulumi plugin ls`). Nothing is downloaded or built.
#
# Usage: scripts/toolchain.sh [--check | --versions | --help]
#   (no flag)   print the CLI's directory (to put on PATH) and exit 0, or say what is
#               missing and how to install it on stderr and exit 3
#   --check     report each piece on stderr; exit 0 when all are present, 3 when not
#   --versions  print the pinned versions as name=version lines
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck disable=SC2016 # the quoted text is JavaScript
pinned() { # PACKAGE: the version node_modules has, else the exact pin in package.json
  node -e '
    const fs = require("fs");
    const pkg = process.argv[1];
    try {
      const p = JSON.parse(fs.readFileSync(`node_modules/@pulumi/${pkg}/package.json`, "utf8"));
      console.log(p.version);
    } catch {
      console.log(JSON.parse(fs.readFileSync("package.json", "utf8")).dependencies[`@pulumi/${pkg}`]);
    }' "$1"
}

declare -A VERSION=(
  [pulumi]=$(pinned pulumi)
  [command]=$(pinned command)
  [random]=$(pinned random)
  [docker]=$(pinned docker)
)

case "${1:-}" in
  --versions)
    for k in pulumi command random docker; do echo "$k=${VERSION[$k]}"; done
    exit 0
    ;;
  --help | -h)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
  "" | --check) ;;
  *)
    echo "usage: scripts/toolchain.sh [--check | --versions | --help]" >&2
    exit 2
    ;;
esac

missing=()
report() { [ "${1:-}" != --check ] || printf 'toolchain: %s\n' "$2" >&2; }
mode=${1:-}

cli=$(command -v pulumi 2>/dev/null || true)
home=${PULUMI_HOME:-$HOME/.pulumi}
[ -n "$cli" ] || { [ -x "$home/bin/pulumi" ] && cli=$home/bin/pulumi; } || true
if [ -z "$cli" ]; then
  missing+=("the Pulumi CLI ${VERSION[pulumi]}")
else
  have=$(PULUMI_SKIP_UPDATE_CHECK=true "$cli" version 2>/dev/null | tr -d v || true)
  if [ "$have" = "${VERSION[pulumi]}" ]; then
    report "$mode" "pulumi ${VERSION[pulumi]}: $cli"
  else
    missing+=("the Pulumi CLI ${VERSION[pulumi]} (found ${have:-nothing that runs} at $cli)")
  fi
  bindir=$(dirname "$cli")
  if [ -x "$bindir/pulumi-language-nodejs" ] || command -v pulumi-language-nodejs >/dev/null 2>&1; then
    report "$mode" "pulumi-language-nodejs: present"
  else
    missing+=("the Node.js language host pulumi-language-nodejs beside $cli")
  fi
  # Dynamic resources (the drift check) run in this host; Pulumi's installer puts it beside the CLI.
  if [ -x "$bindir/pulumi-resource-pulumi-nodejs" ] || command -v pulumi-resource-pulumi-nodejs >/dev/null 2>&1; then
    report "$mode" "pulumi-resource-pulumi-nodejs (dynamic providers): present"
  else
    missing+=("the dynamic-provider host pulumi-resource-pulumi-nodejs beside $cli (it ships with the CLI in Pulumi's release archive; in the pulumi sources it is sdk/nodejs/dist/pulumi-resource-pulumi-nodejs)")
  fi
  # The plugin cache's layout (what `pulumi plugin ls` lists), read without starting the CLI.
  plugin_dir=${PULUMI_HOME:-$HOME/.pulumi}/plugins
  for p in command random docker; do
    if [ -x "$plugin_dir/resource-$p-v${VERSION[$p]}/pulumi-resource-$p" ]; then
      report "$mode" "resource plugin $p ${VERSION[$p]}: installed"
    else
      missing+=("the resource plugin $p ${VERSION[$p]}")
    fi
  done
fi

if [ "${#missing[@]}" -eq 0 ]; then
  [ "$mode" = --check ] || dirname "$cli"
  exit 0
fi

{
  echo "toolchain: the Pulumi engine is not complete here; missing:"
  for m in "${missing[@]}"; do echo "  - $m"; done
  cat <<EOF
toolchain: install the CLI ${VERSION[pulumi]} (with pulumi-language-nodejs and pulumi-resource-pulumi-nodejs
  beside it, as Pulumi's release archive has them) in ~/.pulumi/bin
  or on PATH, then the plugins at exactly these versions, e.g. from downloaded or built binaries:
    pulumi plugin install resource command ${VERSION[command]} --file <pulumi-resource-command>
    pulumi plugin install resource random ${VERSION[random]} --file <pulumi-resource-random>
    pulumi plugin install resource docker ${VERSION[docker]} --file <pulumi-resource-docker>
  (with network access: pulumi plugin install resource <name> <version>). Until then the
  direct runner (runner/) runs the program.
EOF
} >&2
exit 3
