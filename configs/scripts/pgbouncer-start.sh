# Start this router's pools and wait until a login through the read-write pool reaches the
# primary (PgBouncer → HAProxy's direct listener → PostgreSQL, verified on a TLS stack).
# Variables: POOLS PORTS TOOL_PATH SSLMODE TIMEOUT
for entry in "${POOLS[@]}"; do
  IFS=: read -r _ _ unit <<<"$entry"
  systemctl enable "$unit" >/dev/null 2>&1
  systemctl start "$unit"
done
for port in "${PORTS[@]}"; do
  wait_until "$TIMEOUT" "PgBouncer on port $port" pg_isready -q -h 127.0.0.1 -p "$port"
done
primary() {
  [ "$(POOL_DB=postgres POOL_HOST=127.0.0.1 PGSSLMODE=$SSLMODE PGCONNECT_TIMEOUT=3 "$TOOL_PATH" rw -qAt \
    -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ]
}
log "waiting for the read-write pool to reach the primary"
wait_until "$TIMEOUT" "a login through the read-write pool on port ${PORTS[0]}" primary
log "PgBouncer pools on ports ${PORTS[*]} serve clients"
