#!/usr/bin/env bash
# How long read-write clients wait while a parameter change rolls through the cluster.
#
#   bench/restart-pause.sh [STACK]   # a running local stack (default dev), e.g. after `make up`
#
# Polls `select 1` through HAProxy's read-write port every 100 ms while `make up` applies
# max_connections + 50 (a restart of every member), then puts the stack file back and applies it
# again. Writes bench/results/restart-pause.json: failed polls and the longest gap without an answer.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
file=Pulumi.$stack.yaml
out=bench/results/restart-pause.json
export PGPASSFILE=.pulumi-state/$stack.pgpass PGCONNECT_TIMEOUT=1
[ -f "$PGPASSFILE" ] || {
  echo "restart-pause: no $PGPASSFILE; run make up STACK=$stack first" >&2
  exit 1
}
# The first line of the pgpass file is the read-write endpoint.
port=$(sed -n 1p "$PGPASSFILE" | cut -d: -f2)
psql -X -At -h 127.0.0.1 -p "$port" -U postgres postgres -c 'select 1' >/dev/null || {
  echo "restart-pause: no cluster answers on 127.0.0.1:$port; run make up STACK=$stack first" >&2
  exit 1
}
current=$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres postgres -c 'show max_connections')
cp "$file" "$file.bench-backup"
trap 'mv -f "$file.bench-backup" "$file"' EXIT
log=$(mktemp)
(
  while :; do
    if psql -X -At -h 127.0.0.1 -p "$port" -U postgres postgres -c 'select 1' >/dev/null 2>&1; then s=ok; else s=fail; fi
    echo "$(date +%s.%N) $s"
    sleep 0.1
  done
) >"$log" &
poller=$!
python3 - "$file" "$((current + 50))" <<'PY'
import sys, yaml
path, value = sys.argv[1], int(sys.argv[2])
doc = yaml.safe_load(open(path))
pg = doc["config"].setdefault("patroni-stack:postgresql", {})
pg.setdefault("parameters", {})["max_connections"] = value
yaml.safe_dump(doc, open(path, "w"), sort_keys=False)
PY
start=$(date +%s.%N)
scripts/stack.sh up "$stack" >/dev/null
end=$(date +%s.%N)
kill "$poller"
wait "$poller" 2>/dev/null || true
mv -f "$file.bench-backup" "$file"
trap - EXIT
scripts/stack.sh up "$stack" >/dev/null
python3 - "$log" "$start" "$end" "$out" "$stack" <<'PY'
import json, sys, datetime
log, start, end, out, stack = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
polls = [(float(t), s) for t, s in (l.split() for l in open(log) if l.strip())]
polls = [p for p in polls if start <= p[0] <= end]
ok = [t for t, s in polls if s == "ok"]
gaps = [b - a for a, b in zip(ok, ok[1:])]
result = {
    "stack": stack,
    "up_s": round(end - start, 1),
    "polls": len(polls),
    "failed_polls": sum(1 for _, s in polls if s == "fail"),
    "longest_gap_s": round(max(gaps), 2) if gaps else None,
    "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
}
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result))
PY
rm -f "$log"
