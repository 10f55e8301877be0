# Start keepalived and wait until HAProxy answers on the virtual IP (on whichever router holds it).
# Variables: VIP STATS_URL TIMEOUT
systemctl enable keepalived >/dev/null 2>&1
systemctl start keepalived
vip_answers() { curl -s -m 2 -o /dev/null "$STATS_URL"; }
log "waiting for HAProxy to answer on the virtual IP $VIP"
wait_until "$TIMEOUT" "HAProxy on the virtual IP $VIP" vip_answers
if ip -o -4 addr show | grep -q " $VIP/"; then where="this host"; else where="another router"; fi
log "the virtual IP $VIP answers (held by $where)"
