# Install the stack's CA and this host's certificate for every service that reads it (the key
# mode 0600, owned by the service's user), and the client environment of etcdctl, curl and psql.
# The CA, certificate and key come as one JSON document on stdin. Services already running pick
# up renewed files without a restart: etcd reads its certificate at every handshake, PostgreSQL
# and Patroni's REST API on a reload, HAProxy and PgBouncer on a (seamless) reload. A host that
# switches from plain text to TLS reloads nothing here: its services take the files as they switch.
# Variables: TLS_DIR CA_PATH SERVICES HAPROXY_PEM CLIENT_ENV_PATH CLIENT_ENV CURL_HOME CURLRC SOCKET_DIR PG_PORT
# POOL_UNITS PATRONI_CONFIG
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  umask 077
  python3 -c '
import json, os, sys
doc = json.load(sys.stdin)
for name, key in (("ca.crt", "ca"), ("host.crt", "certificate"), ("host.key", "privateKey")):
    with open(os.path.join(sys.argv[1], name), "w") as f:
        f.write(doc[key])
' "$work"
)
install -d -m 0755 "$TLS_DIR"
changed=" "
[ "$(install_file "$work/ca.crt" "$CA_PATH" 0644 root:root)" = unchanged ] || changed+="ca "
for entry in "${SERVICES[@]}"; do
  IFS=: read -r service owner cert key <<<"$entry"
  id "$owner" >/dev/null 2>&1 || die "user $owner (who reads the $service certificate) does not exist: are the $service packages installed?"
  group=$(id -gn "$owner")
  a=$(install_file "$work/host.crt" "$cert" 0644 root:root)
  b=$(install_file "$work/host.key" "$key" 0600 "$owner:$group")
  if [ "$a" = changed ] || [ "$b" = changed ]; then changed+="$service "; fi
  if [ "$service" = haproxy ]; then
    cat "$work/host.crt" "$work/host.key" >"$work/haproxy.pem"
    [ "$(install_file "$work/haproxy.pem" "$HAPROXY_PEM" 0600 root:root)" = unchanged ] || changed+="haproxy "
  fi
done
install -d -m 0755 "$CURL_HOME"
write_file "$CURL_HOME/.curlrc" 0644 root:root "$CURLRC" >/dev/null
write_file "$CLIENT_ENV_PATH" 0644 root:root "$CLIENT_ENV" >/dev/null

renewed() { [[ "$changed" == *" $1 "* || "$changed" == *" ca "* ]]; }

if switching_to_tls; then
  # The services still run in plain text: each takes its certificate as it switches to TLS.
  log "installed for the switch to TLS:$changed"
  exit 0
fi

# Whether Patroni's REST API (at patroni.yml's restapi.connect_address) serves this host's
# certificate as installed now.
rest_serves_installed() {
  python3 - "$PATRONI_CONFIG" "$work/host.crt" <<'PY'
import ssl, sys, yaml
host, port = yaml.safe_load(open(sys.argv[1]))["restapi"]["connect_address"].rsplit(":", 1)
end = "-----END CERTIFICATE-----"
want = open(sys.argv[2]).read().split(end)[0] + end + "\n"
served = ssl.get_server_certificate((host, int(port)), timeout=3)
sys.exit(0 if ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(want) else 1)
PY
}

if renewed postgres && systemctl is-active --quiet patroni; then
  log "certificate renewed: reloading Patroni's REST API and PostgreSQL's TLS settings"
  systemctl reload patroni
  runuser -u postgres -- psql -X -qAt -h "$SOCKET_DIR" -p "$PG_PORT" -d postgres -c 'select pg_reload_conf()' >/dev/null ||
    log "PostgreSQL did not take the reload (is it running?); it reads the new files when it starts"
  # Patroni reloads on its main loop's next turn, which a busy host delays: the step ends once
  # the REST API serves the new certificate (at most 30 s).
  deadline=$((SECONDS + 30))
  until rest_serves_installed >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "Patroni's REST API does not serve the new certificate after 30 s; it takes it at its next reload (systemctl reload patroni)"
      break
    fi
    sleep 0.5
  done
fi
if renewed haproxy && systemctl is-active --quiet haproxy; then
  log "certificate renewed: reloading HAProxy"
  systemctl reload haproxy
fi
if renewed pgbouncer; then
  for unit in "${POOL_UNITS[@]}"; do
    if systemctl is-active --quiet "$unit"; then
      log "certificate renewed: reloading $unit (its clients stay connected)"
      systemctl reload "$unit"
    fi
  done
fi
if [[ "$changed" == *" ca "* ]] && systemctl is-active --quiet etcd; then
  log "the CA changed: etcd reads its trusted CA when it starts; restart it in turn to trust the new one"
fi
if [ "$changed" = " " ]; then log "certificates unchanged"; else log "installed:$changed"; fi
