# The repository host: its user (owner of the repository, runs every backup), pgbackrest.conf, the
# repository directory, the SSH trust with every member, and the schedule's systemd units
# (enabled by the stanza step, once the stanza exists). stdin: JSON {"privateKey", "peerPublicKey"
# (the members'), "config"}.
# Variables: REPO_USER REPO_HOME REPO_TYPE REPO_PATH MEMBERS CONFIG_PATH
#            LEGACY_CONFIG_PATH LOG_PATH UNIT_NAMES UNIT_TEXTS
command -v pgbackrest >/dev/null || die "pgbackrest is not installed: check the host's packages step"
input=$(mktemp)
key=$(mktemp)
conf=$(mktemp)
trap 'rm -f "$input" "$key" "$conf"' EXIT
peer_key=$(backup_input "$input" "$key" "$conf")
if ! getent passwd "$REPO_USER" >/dev/null; then
  useradd --system --create-home --home-dir "$REPO_HOME" --shell /bin/bash --password '*' "$REPO_USER"
  log "created user $REPO_USER"
fi
if [ "$REPO_TYPE" = host ]; then install -d -m 0750 -o "$REPO_USER" -g "$REPO_USER" "$REPO_PATH"; fi
install -d -m 0770 -o "$REPO_USER" -g "$REPO_USER" "$LOG_PATH"
install -d -m 0755 "$(dirname "$CONFIG_PATH")"
install_file "$conf" "$CONFIG_PATH" 0640 "root:$REPO_USER" >/dev/null
if [ -f "$LEGACY_CONFIG_PATH" ] && ! grep -q patroni-stack "$LEGACY_CONFIG_PATH"; then
  printf '# Not read: patroni-stack manages %s\n' "$CONFIG_PATH" >"$LEGACY_CONFIG_PATH"
fi
from=$(
  IFS=,
  echo "${MEMBERS[*]}"
)
ssh_trust "$REPO_USER" "$key" "$peer_key" "$from" "${MEMBERS[@]}"
reload=0
for i in "${!UNIT_NAMES[@]}"; do
  status=$(write_file "/etc/systemd/system/${UNIT_NAMES[$i]}" 0644 root:root "${UNIT_TEXTS[$i]}")
  if [ "$status" = changed ]; then reload=1; fi
done
if [ "$reload" -eq 1 ]; then systemctl daemon-reload; fi
log "repository host ready: $REPO_TYPE repository $REPO_PATH, $(basename "$CONFIG_PATH") for ${#MEMBERS[@]} member(s)"
