# Stop this member. A member that is the raft leader hands leadership to a running member first,
# so that followers stop before the leader and the cluster never waits for an election.
# Variables: MEMBER CLIENT_URL DATA_DIR PURGE
# The id of the first other member whose client URL answers healthy, or nothing.
healthy_peer() {
  local line id url
  while IFS= read -r line; do
    id=$(printf '%s' "$line" | awk -F', ' '{print $1}')
    url=$(printf '%s' "$line" | awk -F', ' '{print $5}' | cut -d, -f1)
    if [ "$id" = "$1" ] || [ -z "$url" ]; then continue; fi
    if etcdctl --endpoints="$url" --command-timeout=2s endpoint health >/dev/null 2>&1; then
      echo "$id"
      return 0
    fi
  done < <(etcdctl --endpoints="$CLIENT_URL" member list -w simple 2>/dev/null || true)
}

if systemctl is-active --quiet etcd; then
  status=$(etcdctl --endpoints="$CLIENT_URL" endpoint status -w simple 2>/dev/null || true)
  my_id=$(printf '%s' "$status" | awk -F', ' '{print $2}')
  is_leader=$(printf '%s' "$status" | awk -F', ' '{print $5}')
  next=$(healthy_peer "$my_id")
  if [ -z "$next" ]; then
    # Alone, a leader steps down once it misses a quorum: it was the leader all the same.
    log "stopping etcd member $MEMBER (raft leader, last member running)"
  elif [ "$is_leader" = true ]; then
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
