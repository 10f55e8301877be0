# Point-in-time recovery of the cluster's data on this member, run by `ctl restore` once Patroni
# is stopped on every member and the cluster is gone from the DCS: restore backup set SET with
# pgBackRest (delta: only changed files are fetched), start PostgreSQL alone until it reaches the
# target and promotes, clear the recovery settings pgBackRest wrote, and stop it again so that
# Patroni takes the promoted data over. Safe to re-run: each run restores from the repository.
# Variables: STANZA SET TYPE TARGET DATA_DIR PG_BIN SOCKET_DIR PG_PORT LOG_PATH TIMEOUT
as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg "$PG_BIN/psql" -XAtq -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres -c "$1"; }
if systemctl is-active --quiet patroni; then die "Patroni runs on $(hostname): stop it first (ctl restore does)"; fi
if as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
  as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null
fi
install -d -m 0700 -o postgres -g postgres "$DATA_DIR"
args=(--stanza="$STANZA" --set="$SET" --delta --log-level-console=warn)
case "$TYPE" in
  latest) args+=(--type=default) ;;
  time | lsn | name) args+=(--type="$TYPE" --target="$TARGET" --target-action=promote) ;;
  *) die "unknown restore type $TYPE" ;;
esac
log "restoring backup $SET of stanza $STANZA (${TYPE}${TARGET:+ $TARGET}) into $DATA_DIR"
as_pg pgbackrest "${args[@]}" restore
pglog="$LOG_PATH/restore-postgresql.log"
log "recovering: PostgreSQL replays WAL from the repository (log: $pglog)"
as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$pglog" -w -t "$TIMEOUT" start >/dev/null ||
  die "PostgreSQL did not start on the restored data:
$(tail -n 8 "$pglog")"
deadline=$((SECONDS + TIMEOUT))
until [ "$(sql 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; do
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
    die "recovery stopped before it reached the target (is the target after the newest archived WAL?):
$(tail -n 8 "$pglog")"
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "recovery did not finish within ${TIMEOUT}s: see $pglog"
  sleep 0.5
done
sql "checkpoint"
timeline=$(sql "select timeline_id from pg_control_checkpoint()")
lsn=$(sql "select pg_current_wal_lsn()")
for setting in restore_command recovery_target recovery_target_time recovery_target_lsn recovery_target_name \
  recovery_target_xid recovery_target_action recovery_target_timeline recovery_target_inclusive; do
  sql "alter system reset $setting"
done
as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null
log "restored and promoted: timeline $timeline from LSN $lsn"
