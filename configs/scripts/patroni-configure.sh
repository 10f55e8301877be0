# Install patroni.yml and the systemd unit. patroni.yml is the member's settings (read from
# stdin: they hold passwords) followed by the bootstrap section uploaded to BOOTSTRAP_PATH.
# A host switching from plain text to TLS (switching_to_tls) reloads, then restarts Patroni: the
# reload turns PostgreSQL's TLS on (Patroni's own connections now require it) and moves the REST
# API to TLS; a reload does not move Patroni's etcd client to TLS, a restart does. The cluster is
# paused by then (tls-switch.sh), so PostgreSQL keeps running and keeps its role; the step ends
# when the restarted REST API answers over TLS.
# Variables: CONFIG_PATH BOOTSTRAP_PATH UNIT REST_URL SOCKET_DIR PG_PORT
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
umask 077
cat >"$tmp"
[ -s "$tmp" ] || die "no patroni.yml on stdin"
[ -s "$BOOTSTRAP_PATH" ] || die "$BOOTSTRAP_PATH is missing: run up again"
cat "$BOOTSTRAP_PATH" >>"$tmp"
umask 022
config=$(install_file "$tmp" "$CONFIG_PATH" 0600 postgres:postgres)
unit=$(write_file /etc/systemd/system/patroni.service 0644 root:root "$UNIT")
if [ "$unit" = changed ]; then systemctl daemon-reload; fi
# Whether the cluster is paused, as this member's REST API says (over TLS or, before the switch, plain text).
cluster_paused() {
  local url body
  for url in "$REST_URL" "${REST_URL/#https:/http:}"; do
    if body=$(curl -sS -m 3 "$url/patroni" 2>/dev/null); then
      python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin).get("pause") else 1)' <<<"$body"
      return
    fi
  done
  return 1
}
rest_over_tls() { curl -fsS -m 3 -o /dev/null "$REST_URL/liveness"; }
postgres_tls_on() {
  [ "$(runuser -u postgres -- psql -X -qAt -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres -c 'show ssl')" = on ]
}
if [ "$config" = changed ] && systemctl is-active --quiet patroni; then
  if switching_to_tls; then
    cluster_paused || die "the cluster is not paused: Patroni does not restart for the switch to TLS (run up again)"
    log "patroni.yml changed for the switch to TLS: reloading Patroni (PostgreSQL's TLS, the REST API's)"
    systemctl reload patroni
    wait_until 120 "PostgreSQL to serve TLS (ssl = on)" postgres_tls_on
    wait_until 120 "Patroni's REST API to answer over TLS on $REST_URL" rest_over_tls
    log "restarting Patroni for its etcd client's TLS (the cluster is paused, PostgreSQL keeps running)"
    systemctl restart patroni
    wait_until 120 "Patroni's REST API to answer over TLS on $REST_URL" rest_over_tls
  else
    log "patroni.yml changed: reloading Patroni"
    systemctl reload patroni
  fi
fi
