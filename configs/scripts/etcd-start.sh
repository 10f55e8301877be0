# Start this member and wait until it is healthy (needs a quorum of members up).
# A member without data whose cluster already runs (its host was replaced, or its data lost)
# joins that cluster: a stale registration of itself is removed, it is added again with
# `etcdctl member add`, and it starts with `initial-cluster-state: existing`.
# Variables: MEMBER CLIENT_URL PEER_URL PEERS CONFIG_PATH DATA_DIR TIMEOUT
# PEERS: the other members' client URLs.

# The first other member that answers healthy (a cluster with a quorum), or nothing.
healthy_peer() {
  local url
  for url in "${PEERS[@]}"; do
    if etcdctl --endpoints="$url" --command-timeout=3s endpoint health >/dev/null 2>&1; then
      echo "$url"
      return 0
    fi
  done
}

# This member's line in the running cluster's member list: "id, status, name, peers, clients, learner".
registration() {
  etcdctl --endpoints="$1" member list -w simple | awk -F', ' -v peer="$PEER_URL" '$4 == peer'
}

join_running_cluster() {
  local peer=$1 entry id name
  entry=$(registration "$peer")
  id=$(printf '%s' "$entry" | awk -F', ' '{print $1}')
  name=$(printf '%s' "$entry" | awk -F', ' '{print $3}')
  if [ -n "$id" ] && [ -n "$name" ]; then
    # It ran before with data that is gone: its old self must leave before it can join again.
    log "etcd member $MEMBER lost its data: removing its old registration $id"
    etcdctl --endpoints="$peer" member remove "$id" >/dev/null
    id=""
  fi
  if [ -z "$id" ]; then
    log "adding etcd member $MEMBER to the running cluster (through $peer)"
    wait_until 60 "etcdctl member add $MEMBER" etcdctl --endpoints="$peer" member add "$MEMBER" --peer-urls="$PEER_URL"
  fi
  sed -i 's/^initial-cluster-state: new$/initial-cluster-state: existing/' "$CONFIG_PATH"
}

if [ ! -d "$DATA_DIR/member" ] && ! systemctl is-active --quiet etcd; then
  peer=$(healthy_peer)
  if [ -n "$peer" ]; then join_running_cluster "$peer"; fi
fi
systemctl enable etcd >/dev/null 2>&1
# Members of a new cluster wait for each other: do not block on systemd's readiness here.
systemctl start --no-block etcd
log "waiting for etcd member $MEMBER to be healthy"
wait_until "$TIMEOUT" "etcd endpoint health on $CLIENT_URL" etcdctl --endpoints="$CLIENT_URL" endpoint health
etcdctl --endpoints="$CLIENT_URL" endpoint status -w table
