# Stop Patroni; it stops PostgreSQL (fast shutdown). Data is kept unless PURGE=true.
# Replicas stop before the leader. A member declared as a replica that holds the primary role
# now (after a failover or switchover) first hands it back to the bootstrap leader, so that
# stopping it does not cause a failover.
# Variables: MEMBER ROLE REST_URL LEADER LEADER_REST_URL CONFIG_PATH DATA_DIR PURGE

if [ "$ROLE" = replica ] && systemctl is-active --quiet patroni && http_ok "$REST_URL/primary"; then
  if http_ok "$LEADER_REST_URL/replica"; then
    log "$MEMBER is the primary: switching over to $LEADER before stopping"
    { restapi_auth "$CONFIG_PATH"; printf 'data = "{\\"leader\\": \\"%s\\", \\"candidate\\": \\"%s\\"}"\n' "$MEMBER" "$LEADER"; } |
      curl -s -m 60 -o /dev/null -w '%{http_code}\n' -X POST --config - "$REST_URL/switchover" || true
    primary_elsewhere() { ! http_ok "$REST_URL/primary" && http_ok "$LEADER_REST_URL/primary"; }
    wait_until 90 "$LEADER to take over as primary" primary_elsewhere
  else
    log "$MEMBER is the primary and $LEADER is not a healthy replica: stopping without a switchover"
  fi
fi
if systemctl is-active --quiet patroni; then
  log "stopping Patroni and PostgreSQL on $MEMBER"
fi
if systemctl cat patroni >/dev/null 2>&1; then systemctl disable --now patroni >/dev/null; fi
postgres_runs() {
  local pid
  pid=$(head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
if [ "$PURGE" = true ]; then
  # Data goes only once nothing runs on it.
  ! systemctl is-active --quiet patroni || die "Patroni still runs on $MEMBER: $DATA_DIR is kept"
  ! postgres_runs || die "PostgreSQL still runs on $DATA_DIR ($MEMBER): the directory is kept"
  log "removing PostgreSQL data $DATA_DIR"
  rm -rf "$DATA_DIR"
fi
