# Holding the clients of PgBouncer's read-write pools while the primary moves or restarts (a
# fragment included by the scripts that need it, after lib.sh). The including script sets POOLS
# ("router-address:pool-port:haproxy-port" items), POOL_USER, POOL_SSLMODE and CA_PATH, writes the
# auth user's password to "$work/pool-password" (empty: no pools, nothing is held) and releases
# the pools in its EXIT trap (release_pools), so that no pool stays paused whatever happens.
paused=()

# pool_sql HOST PORT DATABASE SQL: one statement as the pools' auth user (the password from the
# environment, never a command line), on a pool's admin console or through HAProxy; at most 30 s
# (a PAUSE waits for running transactions).
pool_sql() {
  local conn="host=$1 port=$2 dbname=$3 user=$POOL_USER sslmode=$POOL_SSLMODE connect_timeout=5"
  [ "$POOL_SSLMODE" != verify-full ] || conn="$conn sslrootcert=$CA_PATH"
  PGPASSWORD=$(cat "$work/pool-password") timeout 30 psql -X -At -v ON_ERROR_STOP=1 -d "$conn" -c "$4"
}

# Hold the clients of every read-write pool that answers (PAUSE waits for running transactions,
# then holds new ones). A pool that does not pause (not started yet, a transaction that outlasts
# the wait) is resumed and its clients are not held; the change goes on.
hold_pools() {
  local item host port
  [ -s "$work/pool-password" ] || return 0
  for item in "${POOLS[@]}"; do
    IFS=: read -r host port _ <<<"$item"
    paused+=("$item")
    if pool_sql "$host" "$port" pgbouncer PAUSE >/dev/null 2>"$work/pause.err"; then
      log "holding the clients of the read-write pool on $host:$port"
    else
      log "the read-write pool on $host:$port did not pause, its clients are not held: $(head -c 200 "$work/pause.err")"
      pool_sql "$host" "$port" pgbouncer RESUME >/dev/null 2>&1 || true
      unset 'paused[-1]'
    fi
  done
}

# Whether HAProxy on a router sends read-write connections to a primary that takes writes.
routes_writes() { [ "$(pool_sql "$1" "$2" postgres 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; }

# Resume every held pool once its HAProxy sends writes to a primary again (at most 60 s): the pool
# drops its server connections to the old or restarted server (RECONNECT), and held statements run.
release_pools() {
  local item host port server deadline
  [ "${#paused[@]}" -gt 0 ] || return 0
  for item in "${paused[@]}"; do
    IFS=: read -r host port server <<<"$item"
    deadline=$((SECONDS + 60))
    until routes_writes "$host" "$server" || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
    if pool_sql "$host" "$port" pgbouncer RECONNECT >/dev/null 2>&1 && pool_sql "$host" "$port" pgbouncer RESUME >/dev/null 2>&1; then
      log "resumed the read-write pool on $host:$port"
    else
      log "could not resume the read-write pool on $host:$port: run RESUME on its admin console (patroni-stack-pool rw)"
    fi
  done
  paused=()
}
