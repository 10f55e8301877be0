# Stop HAProxy (clients lose their sessions).
# Variables: none
log "stopping HAProxy"
systemctl disable --now haproxy >/dev/null 2>&1 || true
