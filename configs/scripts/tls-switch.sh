# The cluster-wide steps of a running cluster's switch from plain text to TLS; each does nothing
# unless this host is switching (switching_to_tls), and each is safe to re-run.
#   ACTION=pause   (one member) pause the cluster, so that Patroni can restart with its TLS
#                  settings while PostgreSQL keeps running and no member takes over or demotes.
#   ACTION=hold    (each router) HAProxy's health checks keep the state they have: while the
#                  REST API moves to TLS, a plain-text check would fail and mark a member DOWN.
#                  The cluster is paused, so no role changes meanwhile; the router's configure
#                  step, with checks over TLS, ends the hold.
#   ACTION=resume  (one member) resume the cluster once every member, router and pool uses TLS.
#   ACTION=done    (each host) record that the host's services run with TLS.
# Variables: ACTION CONFIG_PATH HAPROXY_CONFIG ADMIN_SOCKET SERVERS
if ! switching_to_tls; then exit 0; fi
case "$ACTION" in
  pause | resume)
    systemctl is-active --quiet patroni || die "Patroni is not running on this host: it is needed to $ACTION the cluster"
    if out=$(patronictl -c "$CONFIG_PATH" "$ACTION" --wait 2>&1); then
      log "cluster management ${ACTION}d for the switch to TLS"
    elif grep -qE "already paused|not paused" <<<"$out"; then
      log "cluster management already ${ACTION}d"
    else
      die "patronictl $ACTION failed: $out"
    fi
    ;;
  hold)
    if ! systemctl is-active --quiet haproxy; then exit 0; fi
    if grep -q "check-ssl" "$HAPROXY_CONFIG"; then
      log "HAProxy checks the REST API over TLS already: no hold"
      exit 0
    fi
    for server in "${SERVERS[@]}"; do
      echo "disable health $server" | socat stdio "unix-connect:$ADMIN_SOCKET" >/dev/null
    done
    log "HAProxy's health checks hold their state while the REST API moves to TLS (${#SERVERS[@]} servers)"
    ;;
  done)
    printf 'tls\n' >"$PATRONI_STACK_TRANSPORT"
    log "this host's services run with TLS"
    ;;
  *) die "unknown ACTION $ACTION" ;;
esac
