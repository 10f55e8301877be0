# Stop keepalived: a router that holds the virtual IP hands it to another one first (VRRP
# priority 0 on shutdown), so clients move without waiting for a timeout.
# Variables: none
log "stopping keepalived"
systemctl disable --now keepalived >/dev/null 2>&1 || true
