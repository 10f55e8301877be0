# Check the new haproxy.cfg with `haproxy -c` before it replaces the old one, then reload.
# Variables: CONFIG_PATH CONFIG
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$CONFIG" >"$tmp"
install -d -m 0755 /run/haproxy
haproxy -c -q -f "$tmp" || die "haproxy rejected the rendered configuration"
install_file "$tmp" "$CONFIG_PATH" 0640 root:haproxy
if [ "$CHANGED" -eq 1 ] && systemctl is-active --quiet haproxy; then
  log "configuration changed: reloading HAProxy"
  systemctl reload haproxy
fi
