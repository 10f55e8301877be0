# Bring the running cluster's dynamic configuration to DESIRED with one PATCH /config (only the
# keys that differ; parameters that are not desired, set by patroni-stack before or by hand, are
# reset to null), then handle members waiting for a restart as RESTART_POLICY says.
# Variables: DESIRED MEMBERS CONFIG_PATH RESTART_POLICY STATE_FILE LOOP_WAIT TIMEOUT
# MEMBERS: "name=rest-url" items.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"
restapi_auth "$CONFIG_PATH" >"$work/auth"
printf '%s\n' "$DESIRED" >"$work/desired.yml"

member_url() {
  local m
  for m in "${MEMBERS[@]}"; do
    if [ "${m%%=*}" = "$1" ]; then
      echo "${m#*=}"
      return 0
    fi
  done
  return 1
}

# The first member whose REST API answers.
api=""
for attempt in $(seq 1 "$TIMEOUT"); do
  for m in "${MEMBERS[@]}"; do
    if curl -sf -m 3 -o "$work/current.json" "${m#*=}/config"; then
      api=${m#*=}
      break 2
    fi
  done
  [ "$attempt" -lt "$TIMEOUT" ] && sleep 1
done
[ -n "$api" ] || die "no Patroni REST API answered: ${MEMBERS[*]}"

# The patch, and one line per change for the log (the dynamic configuration holds no secret).
python3 - "$work/desired.yml" "$work/current.json" "$STATE_FILE" "$work/patch.json" <<'PY'
import json, sys, yaml

desired = yaml.safe_load(open(sys.argv[1]))
current = json.load(open(sys.argv[2]))
try:
    managed = set(json.load(open(sys.argv[3])))
except (OSError, ValueError):
    managed = set()

def same(a, b):
    """PostgreSQL's spelling of a value: true/on, 100/"100" are the same setting."""
    def norm(v):
        if isinstance(v, bool):
            return "on" if v else "off"
        return str(v).strip().lower()
    return norm(a) == norm(b)

patch, changes = {}, []
for key, value in desired.items():
    if key != "postgresql" and current.get(key) != value:
        patch[key] = value
        changes.append("%s: %s -> %s" % (key, current.get(key), value))
want_pg, have_pg = desired.get("postgresql") or {}, current.get("postgresql") or {}
pg = {}
for key, value in want_pg.items():
    if key != "parameters" and have_pg.get(key) != value:
        pg[key] = value
        changes.append("postgresql.%s: %s -> %s" % (key, have_pg.get(key), value))
want = want_pg.get("parameters") or {}
have = {k.lower(): v for k, v in (have_pg.get("parameters") or {}).items()}
params = {}
for key, value in want.items():
    if key.lower() not in have or not same(have[key.lower()], value):
        params[key] = value
        changes.append("%s: %s -> %s" % (key, have.get(key.lower(), "(unset)"), value))
# Parameters set behind the stack's back are reset too: the stack config is the whole list.
# A reset names the key as the cluster spells it (Patroni merges a patch key by key).
spelled = {k.lower(): k for k in (have_pg.get("parameters") or {})}
wanted = {k.lower() for k in want}
for key in sorted({k.lower() for k in managed} | set(have)):
    if key not in wanted and key in have:
        params[spelled[key]] = None
        changes.append("%s: %s -> (reset)" % (spelled[key], have[key]))
if params:
    pg["parameters"] = params
if pg:
    patch["postgresql"] = pg
json.dump(patch, open(sys.argv[4], "w"), sort_keys=True)
for line in changes:
    print("[patroni-stack] change: " + line)
PY

if [ "$(cat "$work/patch.json")" = "{}" ]; then
  log "the dynamic configuration is up to date"
else
  code=$(curl -s -m 30 -o "$work/response" -w '%{http_code}' -X PATCH --config "$work/auth" \
    -H 'Content-Type: application/json' --data-binary "@$work/patch.json" "$api/config" || true)
  [ "$code" = 200 ] || die "PATCH $api/config answered $code: $(head -c 300 "$work/response")"
  log "dynamic configuration patched through $api"
  # Members pick the change up on their next HA loop.
  sleep $((LOOP_WAIT + 2))
fi
# What patroni-stack manages from now on (resets of dropped parameters rely on it).
mkdir -p "$(dirname "$STATE_FILE")"
python3 -c 'import json, sys, yaml; print(json.dumps(sorted((yaml.safe_load(open(sys.argv[1])).get("postgresql") or {}).get("parameters") or {})))' \
  "$work/desired.yml" >"$STATE_FILE"

# Members waiting for a restart, as "leader name" or "replica name" lines (Patroni's role names
# differ between versions: master, primary, leader, standby_leader).
pending() {
  curl -sf -m 5 "$api/cluster" | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    if m.get("pending_restart"):
        leads = m.get("role") in ("leader", "master", "primary", "standby_leader")
        print("leader" if leads else "replica", m["name"])'
}

restart_member() {
  local role=$1 name=$2 url code
  url=$(member_url "$name") || die "member $name is not part of this stack"
  log "restarting PostgreSQL on $name ($role)"
  code=$(curl -s -m 120 -o "$work/response" -w '%{http_code}' -X POST --config "$work/auth" \
    -H 'Content-Type: application/json' --data '{"restart_pending": true}' "$url/restart" || true)
  [ "$code" = 200 ] || die "restart of $name answered $code: $(head -c 300 "$work/response")"
  if [ "$role" = leader ]; then
    wait_until "$TIMEOUT" "$name to serve as primary again" http_ok "$url/primary"
  else
    wait_until "$TIMEOUT" "$name to serve as replica again" http_ok "$url/replica"
  fi
}

waiting=$(pending || true)
if [ -z "$waiting" ]; then
  log "no member waits for a restart"
elif [ "$RESTART_POLICY" != rolling ]; then
  log "waiting for a restart (restartPolicy manual): $(echo "$waiting" | awk '{print $2}' | xargs)"
else
  # Replicas first, then the leader. A leader that lowered a setting can leave the replicas
  # pending again (they keep the primary's old value until then), so they get a second turn.
  for round in 1 2; do
    waiting=$(pending || true)
    [ -n "$waiting" ] || break
    for turn in replica leader; do
      while read -r role name; do
        if [ "$role" = "$turn" ]; then restart_member "$role" "$name"; fi
      done <<<"$waiting"
    done
    if [ "$round" -eq 2 ] || ! grep -q '^leader ' <<<"$waiting"; then break; fi
    # Replicas must replay the leader's new settings before their second turn: at least 12 s,
    # also with a short loop_wait.
    pause=$((LOOP_WAIT + 2))
    [ "$pause" -ge 12 ] || pause=12
    sleep "$pause"
  done
  # A member republishes its state once per loop: give the flags time to clear (at least 25 s).
  left=$(pending || true)
  settle=$((2 * LOOP_WAIT + 5))
  [ "$settle" -ge 25 ] || settle=25
  for _ in $(seq 1 "$settle"); do
    [ -n "$left" ] || break
    sleep 1
    left=$(pending || true)
  done
  [ -z "$left" ] || die "still waiting for a restart after a rolling restart: $(echo "$left" | awk '{print $2}' | xargs)"
  log "rolling restart done"
fi
