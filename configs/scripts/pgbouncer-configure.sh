# Install PgBouncer's pools on this router: the template unit, each pool's pgbouncer.ini and the
# auth user's file (stdin: its content, which holds a password; mode 0600, owner postgres), and
# the admin tool (patroni-stack-pool) that ctl uses.
# A running pool is reloaded (no client is dropped) whenever this step runs: its file changed, or
# the pool's running settings drifted from it (changed on the admin console, or the file edited
# and reloaded) and the reload sets them back. A changed listen_port needs a restart, which drops
# that pool's clients.
# Variables: UNIT_PATH UNIT POOLS CONFIGS AUTH_FILE TOOL_PATH TOOL
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
id postgres >/dev/null 2>&1 || die "user postgres does not exist: is the pgbouncer package installed?"
# Debian's own instance (localhost:6432, its own user list) is not the stack's.
if systemctl is-enabled --quiet pgbouncer 2>/dev/null || systemctl is-active --quiet pgbouncer 2>/dev/null; then
  log "disabling the distribution's pgbouncer.service (the stack runs its own pools)"
  systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
if [ "$(write_file "$UNIT_PATH" 0644 root:root "$UNIT")" = changed ]; then systemctl daemon-reload; fi
write_file "$TOOL_PATH" 0755 root:root "$TOOL" >/dev/null
(
  umask 077
  cat >"$work/auth"
)
[ -s "$work/auth" ] || die "no auth file on stdin"
auth=$(install_file "$work/auth" "$AUTH_FILE" 0600 postgres:postgres)

# A pool's port in its file (nothing before the first install).
listen_port() { if [ -f "$1" ]; then sed -n 's/^listen_port = //p' "$1"; fi; }
for i in "${!POOLS[@]}"; do
  IFS=: read -r pool path unit <<<"${POOLS[$i]}"
  before=$(listen_port "$path")
  printf '%s\n' "${CONFIGS[$i]}" >"$work/$pool.ini"
  status=$(install_file "$work/$pool.ini" "$path" 0640 root:postgres)
  systemctl is-active --quiet "$unit" || continue
  if [ "$status" = changed ] && [ "$before" != "$(listen_port "$path")" ]; then
    log "the $pool pool moves from port $before: restarting it (its clients reconnect)"
    systemctl restart "$unit"
  else
    log "reloading the $pool pool (file $status, auth file $auth; its clients stay connected)"
    systemctl reload "$unit"
  fi
done

# A router switching from plain text to TLS: once each reloaded pool makes its server connections
# with TLS, the ones it opened before in plain text are closed as they are released (RECONNECT),
# so every hop is encrypted without waiting for server_lifetime. Its clients stay connected.
if switching_to_tls; then
  for entry in "${POOLS[@]}"; do
    IFS=: read -r pool _ unit <<<"$entry"
    systemctl is-active --quiet "$unit" || continue
    server_tls() {
      [ "$("$TOOL_PATH" "$1" -qAtc 'SHOW CONFIG' | awk -F'|' '$1 == "server_tls_sslmode" { print $2 }')" = verify-full ]
    }
    wait_until 30 "the $pool pool to take its TLS settings" server_tls "$pool"
    "$TOOL_PATH" "$pool" -qAtc RECONNECT >/dev/null
    log "the $pool pool reopens its server connections over TLS (RECONNECT)"
  done
fi
