# Before the routers drop a member the stack no longer declares, take the primary role away from
# it: when the member that holds it is not in MEMBERS (it is being removed), switch over to LEADER,
# the declared leader, so that HAProxy never runs without the primary. Runs whenever the member
# list changes, before any router's configuration; the removed member's own stop comes later. On
# pooled stacks the read-write pools hold their clients through the switchover.
# stdin: {"poolPassword": "..."} on pooled stacks (else empty).
# Variables: MEMBERS LEADER CONFIG_PATH TIMEOUT POOLS POOL_USER POOL_SSLMODE CA_PATH

# include: lib-members.sh
# include: lib-pools.sh

work=$(mktemp -d)
trap 'release_pools; rm -rf "$work"' EXIT
chmod 0700 "$work"
python3 -c '
import json, os, sys
text = sys.stdin.read().strip()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, ((json.loads(text) if text else {}).get("poolPassword") or "").encode())
os.close(fd)' "$work/pool-password"

url=$(member_url "$LEADER") || die "the leader $LEADER is not among the members"
wait_until "$TIMEOUT" "the REST API of $LEADER" http_ok "$url/health"
primary=$(primary_member "$url" || true)
if [ -z "$primary" ]; then
  log "no member holds the primary role now: nothing to hand over"
  exit 0
fi
if member_url "$primary" >/dev/null; then
  log "the primary $primary stays a member"
  exit 0
fi
http_ok "$url/replica" ||
  die "$primary holds the primary role and is being removed, but $LEADER is not a healthy replica to take it over: switch over to a member the stack keeps (ctl switchover --candidate NAME), then run up again"

hold_pools
log "$primary holds the primary role and is being removed: switching over to $LEADER first"
restapi_auth "$CONFIG_PATH" >"$work/auth"
printf 'data = "{\\"leader\\": \\"%s\\", \\"candidate\\": \\"%s\\"}"\n' "$primary" "$LEADER" >>"$work/auth"
code=$(curl -s -m 60 -o "$work/response" -w '%{http_code}' -X POST --config "$work/auth" \
  -H 'Content-Type: application/json' "$url/switchover" || true)
# A member that is not the leader answers 503 "status unknown" when the switchover takes longer
# than it waits for it: it goes on all the same, and the wait below tells.
if [ "$code" = 503 ] && grep -qi 'status unknown' "$work/response"; then
  log "Patroni did not see the switchover end in time; waiting for $LEADER to take over"
elif [ "$code" != 200 ]; then
  die "switchover from $primary to $LEADER answered $code: $(head -c 300 "$work/response")"
fi
wait_until "$TIMEOUT" "$LEADER to serve as primary" http_ok "$url/primary"
release_pools
log "$LEADER is the primary; $primary can stop"
