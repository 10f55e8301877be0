# The stanza of the cluster in the repository: create it (or find it), check that WAL archiving
# reaches it from the primary, take the first full backup when the repository has none (a
# second run takes none), and enable the schedule's timers. Runs on the repository host.
# Variables: STANZA REPO_USER TIMERS STALE_TIMERS
as_repo() { runuser -u "$REPO_USER" -- "$@"; }
tail_of() { printf '%s\n' "$1" | grep -v '^\s*$' | tail -n 4 | sed 's/^/    /'; }
if ! out=$(as_repo pgbackrest --stanza="$STANZA" --log-level-console=warn stanza-create 2>&1); then
  if grep -qi "not match\|system-id" <<<"$out"; then
    die "the repository holds a stanza '$STANZA' of another cluster (a different system id): restore from it, move it away, or purge it first:
$(tail_of "$out")"
  fi
  die "stanza-create failed:
$(tail_of "$out")"
fi
if ! out=$(as_repo pgbackrest --stanza="$STANZA" --log-level-console=warn check 2>&1); then
  die "WAL archiving does not reach the repository (pgbackrest check):
$(tail_of "$out")
  check archive_command in \`npm run ctl -- show-config\` and the members' $STANZA logs under /var/log/pgbackrest"
fi
count=$(as_repo pgbackrest --stanza="$STANZA" --output=json info |
  python3 -c 'import json, sys; print(sum(len(s.get("backup", [])) for s in json.load(sys.stdin)))')
if [ "$count" -eq 0 ]; then
  log "no backup of $STANZA yet: taking the first full backup"
  as_repo pgbackrest --stanza="$STANZA" --type=full --log-level-console=warn backup
  log "first full backup of $STANZA taken"
else
  log "stanza $STANZA holds $count backup(s): no backup taken now"
fi
for timer in "${STALE_TIMERS[@]}"; do
  if systemctl is-enabled --quiet "$timer" 2>/dev/null; then systemctl disable --now "$timer" >/dev/null 2>&1; fi
done
for timer in "${TIMERS[@]}"; do systemctl enable --now "$timer" >/dev/null 2>&1; done
log "schedule: $(systemctl list-timers --all --no-legend "${TIMERS[@]}" | awk '{print $(NF-1)}' | paste -sd ' ')"
