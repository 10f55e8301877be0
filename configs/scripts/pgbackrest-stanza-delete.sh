# Destroy of the backup: the schedule stops; the repository is kept unless the stack says purge.
# Variables: STANZA REPO_USER REPO_PATH PURGE UNIT_NAMES
as_repo() { runuser -u "$REPO_USER" -- "$@"; }
for unit in "${UNIT_NAMES[@]}"; do
  case "$unit" in *.timer) systemctl disable --now "$unit" >/dev/null 2>&1 || true ;; esac
  rm -f "/etc/systemd/system/$unit"
done
systemctl daemon-reload
if [ "$PURGE" = true ]; then
  as_repo pgbackrest --stanza="$STANZA" --log-level-console=warn stop || true
  as_repo pgbackrest --stanza="$STANZA" --log-level-console=warn stanza-delete --force ||
    die "could not delete stanza $STANZA from the repository"
  log "backup.onDestroy is purge: stanza $STANZA deleted from the repository ($REPO_PATH)"
else
  log "backup.onDestroy is keep: the repository ($REPO_PATH) keeps stanza $STANZA and its backups"
fi
