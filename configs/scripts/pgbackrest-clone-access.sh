# `ctl restore --into`, on the target stack's primary: for one restore, postgres reaches the
# source stack's repository host with a key of its own, through an ssh wrapper that pgBackRest
# runs (--cmd-ssh), and the target's role password verifiers are saved (mode 0600) so that the
# clone keeps the target stack's credentials. ACTION=grant prints the public key (its last line);
# ACTION=revoke removes the key, the wrapper and any saved verifiers. Nothing secret is printed.
# Variables: ACTION REPO_HOST KEY_BASE ROLES_FILE PG_BIN SOCKET_DIR PG_PORT
home=$(getent passwd postgres | cut -d: -f6)
[ -n "$home" ] || die "user postgres has no home directory"
case "$ACTION" in
  grant)
    install -d -m 0700 -o postgres -g postgres "$home/.ssh" "$(dirname "$KEY_BASE")"
    rm -f "$KEY_BASE" "$KEY_BASE.pub"
    runuser -u postgres -- ssh-keygen -q -t ed25519 -N '' -C patroni-stack-clone -f "$KEY_BASE"
    scanned=""
    deadline=$((SECONDS + 20))
    until scanned=$(ssh-keyscan -T 3 -t ed25519 "$REPO_HOST" 2>/dev/null) && [ -n "$scanned" ]; do
      [ "$SECONDS" -lt "$deadline" ] || die "no SSH host key from $REPO_HOST (port 22): the source's repository host is not reachable from $(hostname)"
      sleep 0.5
    done
    write_file "$KEY_BASE-known_hosts" 0644 postgres:postgres "$scanned" >/dev/null
    write_file "$KEY_BASE-ssh" 0755 root:root "#!/bin/sh
exec ssh -i $KEY_BASE -o IdentitiesOnly=yes -o UserKnownHostsFile=$KEY_BASE-known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes \"\$@\"" >/dev/null
    umask 077
    runuser -u postgres -- "$PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres \
      -c "COPY (SELECT rolname, rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL) TO STDOUT" >"$ROLES_FILE" ||
      die "could not read the target's roles (is its PostgreSQL running?)"
    chown postgres:postgres "$ROLES_FILE"
    cat "$KEY_BASE.pub"
    ;;
  revoke)
    rm -f "$KEY_BASE" "$KEY_BASE.pub" "$KEY_BASE-known_hosts" "$KEY_BASE-ssh" "$ROLES_FILE"
    log "the restore's key to $REPO_HOST is removed"
    ;;
  *) die "unknown ACTION $ACTION" ;;
esac
