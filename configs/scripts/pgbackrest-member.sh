# A member's side of the backup: pgbackrest.conf (its WAL goes to the repository through an async
# queue in SPOOL_PATH), and the postgres user's SSH trust with the repository host. stdin: JSON
# {"privateKey": postgres's key, "peerPublicKey": the repository host's, "config": pgbackrest.conf}
# (an s3 repository's keys are in the config).
# Variables: REPO_HOST CONFIG_PATH LEGACY_CONFIG_PATH SPOOL_PATH LOG_PATH
command -v pgbackrest >/dev/null || die "pgbackrest is not installed: check the host's packages step"
input=$(mktemp)
key=$(mktemp)
conf=$(mktemp)
trap 'rm -f "$input" "$key" "$conf"' EXIT
peer_key=$(backup_input "$input" "$key" "$conf")
install -d -m 0750 -o postgres -g postgres "$SPOOL_PATH"
install -d -m 0770 -o postgres -g postgres "$LOG_PATH"
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
install_file "$conf" "$CONFIG_PATH" 0640 root:postgres >/dev/null
if [ -f "$LEGACY_CONFIG_PATH" ] && ! grep -q patroni-stack "$LEGACY_CONFIG_PATH"; then
  printf '# Not read: patroni-stack manages %s\n' "$CONFIG_PATH" >"$LEGACY_CONFIG_PATH"
fi
# The account must accept a key (a locked one is refused by sshd).
if passwd -S postgres 2>/dev/null | awk '{exit !($2 == "L")}'; then usermod -p '*' postgres; fi
ssh_trust postgres "$key" "$peer_key" "$REPO_HOST" "$REPO_HOST"
log "pgBackRest configured (stanza section and repository in $CONFIG_PATH)"
