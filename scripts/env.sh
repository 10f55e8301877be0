# shellcheck shell=bash
# Environment for running `pulumi` on this project; sourced by the Makefile's recipes and tests.
#   . scripts/env.sh
# Puts the pinned toolchain on PATH and keeps state and secrets local (no Pulumi Cloud account):
# a file backend under .pulumi-state/ and a passphrase generated once per checkout, unless
# PULUMI_BACKEND_URL / PULUMI_CONFIG_PASSPHRASE(_FILE) are already set.
_ps_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_ps_bin=$("$_ps_root/scripts/toolchain.sh") || return 1
export PATH="$_ps_bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$_ps_root/.pulumi-state"
fi
case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
# shellcheck source=scripts/passphrase.sh
. "$_ps_root/scripts/passphrase.sh"
unset _ps_root _ps_bin
