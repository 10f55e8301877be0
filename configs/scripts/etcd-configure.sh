# Write etcd's config file and unit (replacing the distribution's settings). A running member
# whose configuration changed restarts in turn: one member at a time cluster-wide (an etcd lock
# held through its peers), after every member is healthy, and healthy again before the next.
# The initial-cluster settings are read only when a member first starts: a change of those alone
# (members added or removed) is written without a restart.
# Variables: MEMBER CLIENT_URL PEERS CONFIG_PATH CONFIG UNIT UNIT_PATH DATA_DIR
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
runtime_settings() { grep -v '^initial-cluster' "$1" 2>/dev/null || true; }
before=$(runtime_settings "$CONFIG_PATH")
config=$(write_file "$CONFIG_PATH" 0640 root:etcd "$CONFIG")
if [ "$config" = changed ] && [ "$before" = "$(runtime_settings "$CONFIG_PATH")" ] && [ -d "$DATA_DIR/member" ]; then
  log "only the initial-cluster settings changed: etcd member $MEMBER keeps running"
  config=unchanged
fi
unit=$(write_file "$UNIT_PATH" 0644 root:root "$UNIT")
install -d -m 0700 -o etcd -g etcd "$DATA_DIR"
systemctl daemon-reload

all_healthy() { etcdctl --endpoints="$(IFS=,; echo "${CLIENT_URL}${PEERS[*]:+,${PEERS[*]}}")" endpoint health; }

if { [ "$config" = changed ] || [ "$unit" = changed ]; } && systemctl is-active --quiet etcd; then
  if [ "${#PEERS[@]}" -eq 0 ]; then
    log "configuration changed: restarting etcd member $MEMBER"
    systemctl restart etcd
  else
    log "configuration changed: restarting etcd member $MEMBER in its turn"
    # The lock lives in the cluster and is held through the peers while this member restarts.
    # shellcheck disable=SC2016 # the quoted text is the command run under the lock
    etcdctl --endpoints="$(IFS=,; echo "${PEERS[*]}")" lock patroni-stack/etcd-restart -- \
      env CLIENT_URL="$CLIENT_URL" PEERS="${PEERS[*]}" bash -c '
        set -euo pipefail
        all="$CLIENT_URL,${PEERS// /,}"
        for _ in $(seq 120); do etcdctl --endpoints="$all" endpoint health >/dev/null 2>&1 && break; sleep 1; done
        systemctl restart etcd
        for _ in $(seq 120); do etcdctl --endpoints="$CLIENT_URL" endpoint health >/dev/null 2>&1 && exit 0; sleep 1; done
        echo "etcd did not become healthy after its restart" >&2
        exit 1'
  fi
  wait_until 120 "every etcd member to be healthy" all_healthy
  log "etcd member $MEMBER restarted with its new configuration"
fi
