# Write etcd's config file and unit (replacing the distribution's settings). A running member
# whose configuration changed restarts in turn: one member at a time cluster-wide (an etcd lock
# held through its peers), after every member is healthy, and healthy again before the next.
# The initial-cluster settings are read only when a member first starts: a change of those alone
# (members added or removed) is written without a restart.
# A running cluster switching from plain text to TLS (switching_to_tls) takes two phases. PHASE
# configure writes SWITCH_CONFIG: the client port serves both schemes and advertises TLS, and the
# peer port stays in plain text with the peer certificates in place (to dial peers that move to
# TLS); its etcdctl calls use plain text, which every member serves then. PHASE finish, once every
# client of etcd uses TLS, writes CONFIG, which serves TLS only, and moves the member's peer URL to
# TLS (`etcdctl member update`, under the lock, just before its restart). Without a switch, PHASE
# configure writes CONFIG and PHASE finish does nothing.
# Variables: MEMBER CLIENT_URL PEER_URL PEERS CONFIG_PATH CONFIG SWITCH_CONFIG UNIT UNIT_PATH DATA_DIR PHASE
want=$CONFIG
update_peer=""
if switching_to_tls; then
  if [ "$PHASE" = configure ]; then
    log "etcd member $MEMBER: serving plain text and TLS side by side while its clients move to TLS"
    want=$SWITCH_CONFIG
    # Every member answers plain text until the finish phase.
    CLIENT_URL=${CLIENT_URL/#https:/http:}
    PEERS=("${PEERS[@]/#https:/http:}")
  else
    log "etcd member $MEMBER: every client uses TLS now: serving TLS only"
    update_peer=$PEER_URL
  fi
elif [ "$PHASE" = finish ]; then
  exit 0
fi
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
runtime_settings() { grep -v '^initial-cluster' "$1" 2>/dev/null || true; }
before=$(runtime_settings "$CONFIG_PATH")
config=$(write_file "$CONFIG_PATH" 0640 root:etcd "$want")
if [ "$config" = changed ] && [ "$before" = "$(runtime_settings "$CONFIG_PATH")" ] && [ -d "$DATA_DIR/member" ]; then
  log "only the initial-cluster settings changed: etcd member $MEMBER keeps running"
  config=unchanged
fi
unit=$(write_file "$UNIT_PATH" 0644 root:root "$UNIT")
install -d -m 0700 -o etcd -g etcd "$DATA_DIR"
systemctl daemon-reload

all_healthy() { etcdctl --endpoints="$(IFS=,; echo "${CLIENT_URL}${PEERS[*]:+,${PEERS[*]}}")" endpoint health; }

# The restart, run under the lock when there are peers: before it, a member whose peer URL moves
# to TLS has its registration updated (its peers then dial it over TLS).
# shellcheck disable=SC2016 # the quoted text is run by bash -c, with its variables from the environment
restart_member='
  set -euo pipefail
  all="$CLIENT_URL${PEERS:+,${PEERS// /,}}"
  for _ in $(seq 120); do etcdctl --endpoints="$all" endpoint health >/dev/null 2>&1 && break; sleep 1; done
  if [ -n "$UPDATE_PEER" ]; then
    id=$(etcdctl --endpoints="$all" member list -w json | python3 -c "
import json, os, sys
for m in json.load(sys.stdin).get(\"members\") or []:
    if m.get(\"name\") == os.environ[\"MEMBER\"] and os.environ[\"UPDATE_PEER\"] not in (m.get(\"peerURLs\") or []):
        print(\"%x\" % m[\"ID\"])")
    if [ -n "$id" ]; then
      echo "[patroni-stack] etcd member $MEMBER: its peer URL becomes $UPDATE_PEER"
      etcdctl --endpoints="$all" member update "$id" --peer-urls="$UPDATE_PEER" >/dev/null
    fi
  fi
  systemctl restart etcd
  for _ in $(seq 120); do etcdctl --endpoints="$CLIENT_URL" endpoint health >/dev/null 2>&1 && exit 0; sleep 1; done
  echo "etcd did not become healthy after its restart" >&2
  exit 1'

if { [ "$config" = changed ] || [ "$unit" = changed ]; } && systemctl is-active --quiet etcd; then
  run_env=(env MEMBER="$MEMBER" CLIENT_URL="$CLIENT_URL" PEERS="${PEERS[*]}" UPDATE_PEER="$update_peer")
  if [ "${#PEERS[@]}" -eq 0 ]; then
    log "configuration changed: restarting etcd member $MEMBER"
    "${run_env[@]}" bash -c "$restart_member"
  else
    log "configuration changed: restarting etcd member $MEMBER in its turn"
    # The lock lives in the cluster and is held through the peers while this member restarts. A
    # waiter whose connection breaks (a peer restarting in its turn) waits again.
    locked_restart() {
      etcdctl --endpoints="$(IFS=,; echo "${PEERS[*]}")" lock patroni-stack/etcd-restart -- \
        "${run_env[@]}" bash -c "$restart_member"
    }
    for attempt in 1 2 3 4 5; do
      if locked_restart; then break; fi
      [ "$attempt" -lt 5 ] || die "etcd member $MEMBER could not restart in its turn (see the errors above)"
      log "etcd member $MEMBER: waiting for its turn again"
      sleep 2
    done
  fi
  wait_until 120 "every etcd member to be healthy" all_healthy
  log "etcd member $MEMBER restarted with its new configuration"
fi
