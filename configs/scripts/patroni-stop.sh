# Stop Patroni; it stops PostgreSQL (fast shutdown). Data is kept unless PURGE=true.
# Variables: MEMBER DATA_DIR PURGE
if systemctl is-active --quiet patroni; then
  log "stopping Patroni and PostgreSQL on $MEMBER"
fi
systemctl disable --now patroni >/dev/null 2>&1 || true
if [ "$PURGE" = true ]; then
  log "removing PostgreSQL data $DATA_DIR"
  rm -rf "$DATA_DIR"
fi
