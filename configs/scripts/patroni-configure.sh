# Install patroni.yml (read from stdin: it holds passwords) and the systemd unit.
# Variables: CONFIG_PATH UNIT
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
umask 077
cat >"$tmp"
[ -s "$tmp" ] || die "no patroni.yml on stdin"
umask 022
install_file "$tmp" "$CONFIG_PATH" 0600 postgres:postgres
config_changed=$CHANGED
CHANGED=0
write_file /etc/systemd/system/patroni.service 0644 root:root "$UNIT"
if [ "$CHANGED" -eq 1 ]; then systemctl daemon-reload; fi
if [ "$config_changed" -eq 1 ] && systemctl is-active --quiet patroni; then
  log "patroni.yml changed: reloading Patroni"
  systemctl reload patroni
fi
