# Send the PATCH /config the program planned, then handle members waiting for a restart as
# RESTART_POLICY says. stdin: {"changes": [lines], "patch": {...}} (patch `{}` when nothing
# differs): the diff is computed once, by the program, from the same differences its preview shows;
# on pooled stacks also "poolPassword", the pools' auth user's, to hold their clients while the
# leader restarts.
# Variables: MEMBERS CONFIG_PATH RESTART_POLICY LOOP_WAIT TIMEOUT POOLS POOL_USER POOL_SSLMODE CA_PATH
# MEMBERS: "name=rest-url" items. POOLS: "router-address:pool-port:haproxy-port" items, one per
# read-write pool (empty without PgBouncer).

# include: lib-members.sh
# include: lib-pools.sh

work=$(mktemp -d)
trap 'release_pools; rm -rf "$work"' EXIT
chmod 0700 "$work"
restapi_auth "$CONFIG_PATH" >"$work/auth"
python3 -c '
import json, os, sys
plan = json.load(sys.stdin)
for line in plan.get("changes") or []:
    print("[patroni-stack] change: " + line)
json.dump(plan.get("patch") or {}, open(sys.argv[1], "w"), sort_keys=True, separators=(",", ":"))
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, (plan.get("poolPassword") or "").encode())
os.close(fd)' "$work/patch.json" "$work/pool-password"

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

if [ "$(cat "$work/patch.json")" = "{}" ]; then
  log "the dynamic configuration is up to date"
else
  code=$(curl -s -m 30 -o "$work/response" -w '%{http_code}' -X PATCH --config "$work/auth" \
    -H 'Content-Type: application/json' --data-binary "@$work/patch.json" "$api/config" || true)
  [ "$code" = 200 ] || die "PATCH $api/config answered $code: $(head -c 300 "$work/response")"
  log "dynamic configuration patched through $api: $(cat "$work/patch.json")"
  # Members pick the change up on their next HA loop.
  sleep $((LOOP_WAIT + 2))
fi
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
  [ "$role" != leader ] || hold_pools
  log "restarting PostgreSQL on $name ($role)"
  code=$(curl -s -m 120 -o "$work/response" -w '%{http_code}' -X POST --config "$work/auth" \
    -H 'Content-Type: application/json' --data '{"restart_pending": true}' "$url/restart" || true)
  [ "$code" = 200 ] || die "restart of $name answered $code: $(head -c 300 "$work/response")"
  if [ "$role" = leader ]; then
    wait_until "$TIMEOUT" "$name to serve as primary again" http_ok "$url/primary"
    release_pools
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
