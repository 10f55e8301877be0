# The stack's Patroni members as the including script knows them (a fragment, after lib.sh):
# MEMBERS holds "name=rest-url" items.

# member_url NAME: the member's REST API URL; fails for a member the stack does not declare.
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

# primary_member REST_URL: the name of the member that holds the primary role, as the member at
# REST_URL sees the cluster (nothing when none does). Patroni's role names differ between
# versions: master, primary, leader.
primary_member() {
  curl -sf -m 5 "$1/cluster" | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    if m.get("role") in ("leader", "master", "primary"):
        print(m["name"])
        break'
}
