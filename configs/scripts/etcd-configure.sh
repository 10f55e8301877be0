# Write etcd's config file and unit (replacing the distribution's settings).
# Variables: CONFIG_PATH CONFIG UNIT DATA_DIR
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
write_file "$CONFIG_PATH" 0640 root:etcd "$CONFIG"
write_file /etc/systemd/system/etcd.service 0644 root:root "$UNIT"
install -d -m 0700 -o etcd -g etcd "$DATA_DIR"
systemctl daemon-reload
if [ "$CHANGED" -eq 1 ] && systemctl is-active --quiet etcd; then
  log "configuration changed: restarting etcd"
  systemctl restart --no-block etcd
fi
