# Start HAProxy and wait until exactly one read-write backend is UP.
# Variables: STATS_URL LISTENER TIMEOUT
systemctl enable haproxy >/dev/null 2>&1
systemctl start haproxy
primaries_up() {
  curl -s -m 3 "$STATS_URL/;csv" | awk -F, -v l="$LISTENER" \
    '$1 == l && $2 != "FRONTEND" && $2 != "BACKEND" && $18 ~ /^UP/ { n++ } END { print n + 0 }'
}
one_primary() { [ "$(primaries_up)" = 1 ]; }
log "waiting for exactly one read-write backend to be UP"
wait_until "$TIMEOUT" "one UP server in $LISTENER (stats: $STATS_URL)" one_primary
log "HAProxy routes read-write traffic to one primary"
