# Start this member and wait until it is healthy (needs a quorum of members up).
# Variables: MEMBER CLIENT_URL TIMEOUT
systemctl enable etcd >/dev/null 2>&1
# Members of a new cluster wait for each other: do not block on systemd's readiness here.
systemctl start --no-block etcd
log "waiting for etcd member $MEMBER to be healthy"
wait_until "$TIMEOUT" "etcd endpoint health on $CLIENT_URL" etcdctl --endpoints="$CLIENT_URL" endpoint health
etcdctl --endpoints="$CLIENT_URL" endpoint status -w table
