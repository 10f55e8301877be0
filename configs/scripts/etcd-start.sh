# Start this member and wait until it is healthy (needs a quorum of members up).
# A member without data whose cluster already runs (a member added to roles.etcd, its host
# replaced, or its data lost) joins that cluster: a stale registration of itself is removed, it is
# added with `etcdctl member add`, and it starts with `initial-cluster-state: existing`. Members
# join one at a time (an etcd lock held through a running member), each healthy before the next.
# Data left by a member the cluster no longer lists (it was removed) is moved aside first.
# With PRUNE, registered members that roles.etcd no longer lists are then removed with
# `etcdctl member remove`, one at a time, each only while every listed member is healthy.
# Variables: MEMBER CLIENT_URL PEER_URL PEERS CONFIG_PATH DATA_DIR TIMEOUT PRUNE DECLARED_PEER_URLS
# PEERS: the other members' client URLs; DECLARED_PEER_URLS: every listed member's peer URL.

# The first other member that answers healthy (a cluster with a quorum), or nothing. Its /health
# answers at once when the member is not running (connection refused), where etcdctl would wait
# out its dial timeout for each member of a cluster that is starting for the first time.
healthy_peer() {
  local url
  for url in "${PEERS[@]}"; do
    if http_ok "$url/health"; then
      echo "$url"
      return 0
    fi
  done
}

# The first other member that answers etcd's member list (served without a quorum), or nothing.
answering_peer() {
  local url
  for url in "${PEERS[@]}"; do
    if member_table "$url" >/dev/null 2>&1; then
      echo "$url"
      return 0
    fi
  done
}

# "id|name|peer URL" (hex id; no name while a member has not started) of each member registered
# in the cluster ENDPOINT serves, from etcdctl's JSON; fails when ENDPOINT does not answer.
member_table() {
  etcdctl --endpoints="$1" --dial-timeout=2s --command-timeout=5s member list -w json | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members") or []:
    print("%x|%s|%s" % (m["ID"], m.get("name", ""), (m.get("peerURLs") or [""])[0]))'
}

healthy_peer_found() { [ -n "$(healthy_peer)" ]; }

# A peer URL without its scheme: a member keeps its address and port when its cluster switches
# from plain text to TLS (etcd-configure.sh), and is the same member.
peer_address() { printf '%s' "${1#*://}"; }

# This member's line in the running cluster's member table.
registration() {
  member_table "$1" | awk -F'|' -v peer="$(peer_address "$PEER_URL")" '{ u = $3; sub(/^[a-z]+:\/\//, "", u) } u == peer'
}

join_running_cluster() {
  local peer=$1 entry id name
  entry=$(registration "$peer")
  IFS='|' read -r id name _ <<<"$entry"
  if [ -n "$id" ] && [ -n "$name" ]; then
    # It ran before with data that is gone: its old self must leave before it can join again.
    log "etcd member $MEMBER lost its data: removing its old registration $id"
    etcdctl --endpoints="$peer" member remove "$id" >/dev/null
    id=""
  fi
  local added="" initial
  if [ -z "$id" ]; then
    log "adding etcd member $MEMBER to the running cluster (through $peer)"
    for _ in $(seq 60); do
      if added=$(etcdctl --endpoints="$peer" member add "$MEMBER" --peer-urls="$PEER_URL" 2>&1); then break; fi
      added=""
      sleep 1
    done
    [ -n "$added" ] || die "etcdctl member add $MEMBER failed through $peer"
  fi
  # A joining member must name the cluster as it is now (its running members and itself), not
  # as the stack will be once every new member has joined.
  initial=$(printf '%s\n' "$added" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p')
  if [ -n "$initial" ]; then sed -i "s|^initial-cluster: .*|initial-cluster: $initial|" "$CONFIG_PATH"; fi
  sed -i 's/^initial-cluster-state: new$/initial-cluster-state: existing/' "$CONFIG_PATH"
}

if ! systemctl is-active --quiet etcd; then
  peer=$(healthy_peer)
  other=""
  if [ -z "$peer" ]; then other=$(answering_peer); fi
  if [ -n "$other" ] && [ -z "$(registration "$other")" ]; then
    # A running cluster that does not list this member, without a quorum for now: another member
    # is joining it and the cluster waits for that one to start. Wait too, rather than start a
    # cluster of its own.
    log "etcd member $MEMBER: the running cluster (through $other) settles another change: waiting for a healthy member"
    wait_until "$TIMEOUT" "a healthy etcd member to join through" healthy_peer_found
    peer=$(healthy_peer)
  fi
  if [ -n "$peer" ] && [ -d "$DATA_DIR/member" ] && [ -z "$(registration "$peer")" ]; then
    aside="$DATA_DIR.removed-$(date +%Y%m%dT%H%M%S)"
    log "etcd member $MEMBER was removed from the cluster: its old data moves to $aside"
    mv "$DATA_DIR" "$aside"
    install -d -m 0700 -o etcd -g etcd "$DATA_DIR"
  fi
  if [ -n "$peer" ] && [ ! -d "$DATA_DIR/member" ]; then
    if [ -z "${JOIN_LOCKED:-}" ]; then
      log "etcd member $MEMBER joins the running cluster: waiting for its turn"
      exec etcdctl --endpoints="$peer" lock patroni-stack/etcd-join -- env JOIN_LOCKED=1 bash "$0"
    fi
    join_running_cluster "$peer"
  fi
fi
systemctl enable etcd >/dev/null 2>&1
# Members of a new cluster wait for each other: do not block on systemd's readiness here.
systemctl start --no-block etcd
log "waiting for etcd member $MEMBER to be healthy"
wait_until "$TIMEOUT" "etcd endpoint health on $CLIENT_URL" etcdctl --endpoints="$CLIENT_URL" endpoint health
etcdctl --endpoints="$CLIENT_URL" endpoint status -w table

# Members roles.etcd no longer lists leave the cluster, one at a time.
declared() {
  local url
  for url in "${DECLARED_PEER_URLS[@]}"; do [ "$(peer_address "$url")" != "$(peer_address "$1")" ] || return 0; done
  return 1
}
# Remove a member; succeeds once the member list no longer has it.
remove_member() {
  local table
  etcdctl --endpoints="$CLIENT_URL" member remove "$1" >/dev/null 2>&1 || true
  table=$(member_table "$CLIENT_URL") || return 1
  ! awk -F'|' '{print $1}' <<<"$table" | grep -qx "$1"
}
all_declared_healthy() { etcdctl --endpoints="$(IFS=,; echo "${CLIENT_URL}${PEERS[*]:+,${PEERS[*]}}")" endpoint health; }
if [ "$PRUNE" = true ]; then
  while IFS='|' read -r id name peer_url; do
    if [ -z "$id" ] || declared "$peer_url"; then continue; fi
    wait_until "$TIMEOUT" "every listed etcd member to be healthy before removing $name" all_declared_healthy
    log "removing etcd member ${name:-$peer_url} ($id): roles.etcd no longer lists it"
    # etcd refuses a removal while it still settles the previous change: try until it is gone.
    wait_until "$TIMEOUT" "etcd to remove member ${name:-$peer_url} ($id)" remove_member "$id"
  done < <(member_table "$CLIENT_URL")
fi
