# Install the health check and keepalived.conf (checked with `keepalived -t` first); a changed
# configuration is reloaded, which keeps the virtual IP where it is.
# Variables: CONFIG_PATH CONFIG CHECK_PATH CHECK
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
write_file "$CHECK_PATH" 0755 root:root "$CHECK" >/dev/null
printf '%s\n' "$CONFIG" >"$tmp"
keepalived -t -f "$tmp" >/dev/null 2>&1 || die "keepalived rejected the rendered configuration: $(keepalived -t -f "$tmp" 2>&1 | tail -n 3)"
config=$(install_file "$tmp" "$CONFIG_PATH" 0640 root:root)
if [ "$config" = changed ] && systemctl is-active --quiet keepalived; then
  log "configuration changed: reloading keepalived"
  systemctl reload keepalived
fi
