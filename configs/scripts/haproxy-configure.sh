# Check the new haproxy.cfg with `haproxy -c` before it replaces the old one, then reload.
# Servers' states are saved first: a new process would otherwise count every server UP until its
# first health check, and send read-write clients to replicas for a moment.
# Variables: CONFIG_PATH CONFIG STATE_FILE ADMIN_SOCKET
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$CONFIG" >"$tmp"
install -d -m 0755 /run/haproxy
haproxy -c -q -f "$tmp" || die "haproxy rejected the rendered configuration"
config=$(install_file "$tmp" "$CONFIG_PATH" 0640 root:haproxy)
install -d -m 0755 "$(dirname "$STATE_FILE")"
if [ "$config" = changed ] && systemctl is-active --quiet haproxy; then
  log "configuration changed: saving server states and reloading HAProxy"
  echo "show servers state" | socat stdio "unix-connect:$ADMIN_SOCKET" >"$STATE_FILE.new"
  mv -f "$STATE_FILE.new" "$STATE_FILE"
  systemctl reload haproxy
fi
