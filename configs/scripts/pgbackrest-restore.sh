# Point-in-time recovery of the cluster's data on this member, run by `ctl restore` once Patroni
# is stopped on every member and the cluster is gone from the DCS: restore backup set SET with
# pgBackRest (delta: only changed files are fetched), start PostgreSQL alone until it reaches the
# target and promotes, clear the recovery settings pgBackRest wrote, and stop it again so that
# Patroni takes the promoted data over. Safe to re-run: each run restores from the repository.
#
# `ctl restore --into` (a clone): REPO_HOST names the source stack's repository host, reached as
# REPO_USER through SSH_CMD, and ROLES_FILE holds the target's role password verifiers, put back
# once the clone is promoted (then removed). Empty for a restore in place.
# Variables: STANZA SET TYPE TARGET DATA_DIR PG_BIN SOCKET_DIR PG_PORT LOG_PATH TIMEOUT
#            REPO_HOST REPO_USER SSH_CMD ROLES_FILE
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
if [ -n "$REPO_HOST" ]; then
  # The source's repository, for the restore and for the WAL recovery fetches.
  remote=(--stanza="$STANZA" --repo1-host="$REPO_HOST" --repo1-host-user="$REPO_USER" --cmd-ssh="$SSH_CMD"
    --pg1-path="$DATA_DIR")
  args+=("${remote[@]:1}" --recovery-option="restore_command=pgbackrest ${remote[*]} archive-get %f \"%p\"")
fi
log "restoring backup $SET of stanza $STANZA (${TYPE}${TARGET:+ $TARGET}) into $DATA_DIR"
as_pg pgbackrest "${args[@]}" restore
pglog="$LOG_PATH/restore-postgresql.log"
log "recovering: PostgreSQL replays WAL from the repository (log: $pglog)"
# Local connections only while it recovers; the files and the port are this host's (a clone's
# data carries the source's postgresql.conf until Patroni rewrites it).
opts="-c listen_addresses='' -c port=$PG_PORT -c hba_file=$DATA_DIR/pg_hba.conf -c ident_file=$DATA_DIR/pg_ident.conf"
as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$pglog" -o "$opts" -w -t "$TIMEOUT" start >/dev/null ||
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
if [ -n "$ROLES_FILE" ]; then
  [ -s "$ROLES_FILE" ] || die "no saved role verifiers in $ROLES_FILE: run the restore again"
  # The verifiers go in as COPY data and through format() in a DO block: no statement shows them.
  {
    printf '%s\n' "CREATE TEMP TABLE target_roles (name text, verifier text);" "COPY target_roles FROM STDIN;"
    cat "$ROLES_FILE"
    printf '%s\n' '\.' "DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT * FROM target_roles LOOP
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN EXECUTE format('CREATE ROLE %I LOGIN', r.name); END IF;
  EXECUTE format('ALTER ROLE %I PASSWORD %L', r.name, r.verifier);
END LOOP; END \$\$;"
  } | as_pg "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres >/dev/null ||
    die "could not put the target's role passwords back"
  rm -f "$ROLES_FILE"
  log "the clone keeps this stack's role passwords ($(sql 'select count(*) from pg_authid where rolpassword is not null') roles)"
fi
sql "checkpoint"
timeline=$(sql "select timeline_id from pg_control_checkpoint()")
lsn=$(sql "select pg_current_wal_lsn()")
for setting in restore_command recovery_target recovery_target_time recovery_target_lsn recovery_target_name \
  recovery_target_xid recovery_target_action recovery_target_timeline recovery_target_inclusive; do
  sql "alter system reset $setting"
done
as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w stop >/dev/null
log "restored and promoted: timeline $timeline from LSN $lsn"
