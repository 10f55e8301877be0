# shellcheck shell=bash
# The passphrase of the stacks' secrets, for either engine; sourced by scripts/env.sh and
# scripts/stack.sh. Unless PULUMI_CONFIG_PASSPHRASE(_FILE) is already set, it is a passphrase
# generated once per checkout in .pulumi-state/passphrase (mode 0600).
_ps_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  _ps_pass="$_ps_root/.pulumi-state/passphrase"
  if [ ! -s "$_ps_pass" ]; then
    mkdir -p "$_ps_root/.pulumi-state"
    (umask 077 && head -c 32 /dev/urandom | base64 >"$_ps_pass")
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$_ps_pass"
fi
unset _ps_root _ps_pass
