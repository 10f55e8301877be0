# Start Patroni (it starts PostgreSQL) and wait until it has taken its expected role.
# Variables: MEMBER ROLE REST_URL PG_PORT SOCKET_DIR TIMEOUT
systemctl enable patroni >/dev/null 2>&1
systemctl start patroni
if [ "$ROLE" = leader ]; then
  log "waiting for $MEMBER to become the primary"
  wait_until "$TIMEOUT" "$REST_URL/primary to answer 200" http_ok "$REST_URL/primary"
else
  streaming() {
    [ "$(http_status "$REST_URL/replica")" = 200 ] &&
      [ "$(runuser -u postgres -- psql -X -At -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres \
        -c 'select status from pg_stat_wal_receiver' 2>/dev/null)" = streaming ]
  }
  log "waiting for $MEMBER to stream from the primary"
  wait_until "$TIMEOUT" "$MEMBER to answer $REST_URL/replica and stream" streaming
fi
log "$MEMBER is up as $ROLE"
