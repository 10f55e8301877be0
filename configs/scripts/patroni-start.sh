# Start Patroni (it starts PostgreSQL) and wait until it has taken its expected role. A member
# that runs already (the step runs again: its REST URL moved to TLS, say) may hold either role
# since a switchover: it is up once it is the primary or streams.
# Variables: MEMBER ROLE REST_URL PG_PORT SOCKET_DIR TIMEOUT
was_running=false
if systemctl is-active --quiet patroni; then was_running=true; fi
systemctl enable patroni >/dev/null 2>&1
systemctl start patroni
streaming() {
  [ "$(http_status "$REST_URL/replica")" = 200 ] &&
    [ "$(runuser -u postgres -- psql -X -At -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres \
      -c 'select status from pg_stat_wal_receiver' 2>/dev/null)" = streaming ]
}
# The bootstrap leader of a cluster that runs already (its host was replaced) joins as a replica.
primary_or_streaming() { http_ok "$REST_URL/primary" || streaming; }
if [ "$ROLE" = leader ] || [ "$was_running" = true ]; then
  log "waiting for $MEMBER to become the primary (or, in a running cluster, to stream from it)"
  wait_until "$TIMEOUT" "$REST_URL/primary to answer 200, or $MEMBER to stream" primary_or_streaming
else
  log "waiting for $MEMBER to stream from the primary"
  wait_until "$TIMEOUT" "$MEMBER to answer $REST_URL/replica and stream" streaming
fi
if http_ok "$REST_URL/primary"; then role=primary; else role=replica; fi
log "$MEMBER is up ($role)"
