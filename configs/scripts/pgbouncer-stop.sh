# Stop this router's pools (a safe shutdown: running transactions finish first).
# Variables: POOLS
for entry in "${POOLS[@]}"; do
  IFS=: read -r pool _ unit <<<"$entry"
  if systemctl cat "$unit" >/dev/null 2>&1; then
    log "stopping the $pool pool"
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done
