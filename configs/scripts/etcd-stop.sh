# Stop this member. Members stop together, except the one planned last (the first listed), which
# stops once they are gone. A member that is the raft leader hands leadership to that last member
# first (or, being it, to any member still running), so the cluster never waits for an election.
# Variables: MEMBER CLIENT_URL DATA_DIR PURGE HANDOFF_URL
# HANDOFF_URL: the client URL of the member that stops last; empty on that member itself.

# "id url" (hex id, first client URL) of every registered member, from etcdctl's JSON.
members() {
  etcdctl --endpoints="$CLIENT_URL" member list -w json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members") or []:
    print("%x %s" % (m["ID"], (m.get("clientURLs") or [""])[0]))' || true
}

# This member's id and the raft leader's id (hex), from etcdctl's JSON.
ids() {
  etcdctl --endpoints="$CLIENT_URL" endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]
print("%x %x" % (s["header"]["member_id"], s["leader"]))' || true
}

if systemctl is-active --quiet etcd; then
  read -r my_id leader_id < <(ids; echo) || true
  # Other members that answer healthy on /health (at once when a member is gone, where etcdctl
  # would wait out its dial timeout).
  peers=()
  while read -r id url; do
    if [ -n "$id" ] && [ "$id" != "${my_id:-}" ] && [ -n "$url" ] && http_ok "$url/health"; then peers+=("$id $url"); fi
  done < <(members)
  next=""
  for p in "${peers[@]}"; do
    if [ -n "$HANDOFF_URL" ] && [ "${p#* }" = "$HANDOFF_URL" ]; then next=${p%% *}; fi
  done
  if [ -z "$next" ] && [ "${#peers[@]}" -gt 0 ]; then next=${peers[0]%% *}; fi
  if [ -z "$next" ]; then
    # Alone, a leader steps down once it misses a quorum: it was the leader all the same.
    log "stopping etcd member $MEMBER (raft leader, last member running)"
  elif [ -n "${my_id:-}" ] && [ "$my_id" = "${leader_id:-}" ]; then
    log "etcd member $MEMBER is the raft leader: moving leadership to $next"
    if etcdctl --endpoints="$CLIENT_URL" move-leader "$next" >/dev/null; then
      log "stopping etcd member $MEMBER (follower: leadership moved to $next)"
    else
      log "stopping etcd member $MEMBER (raft leader: move-leader failed)"
    fi
  else
    log "stopping etcd member $MEMBER (follower)"
  fi
fi
if systemctl cat etcd >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null; fi
if [ "$PURGE" = true ]; then
  ! systemctl is-active --quiet etcd || die "etcd still runs on $MEMBER: $DATA_DIR is kept"
  log "removing etcd data $DATA_DIR"
  rm -rf "$DATA_DIR"
fi
