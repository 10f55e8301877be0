# Install patroni.yml and the systemd unit. patroni.yml is the member's settings (read from
# stdin: they hold passwords) followed by the bootstrap section uploaded to BOOTSTRAP_PATH.
# Variables: CONFIG_PATH BOOTSTRAP_PATH UNIT
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
if [ "$config" = changed ] && systemctl is-active --quiet patroni; then
  log "patroni.yml changed: reloading Patroni"
  systemctl reload patroni
fi
