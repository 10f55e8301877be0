# Create or update the extra roles on the primary. stdin: the superuser's password on the first
# line, then one "name<TAB>password<TAB>options" line per role. Nothing secret is printed.
# With POOL_AUTH_SQL (PgBouncer's lookup function), it runs in every database that accepts
# connections, template1 included, so that databases created later have it too.
# Variables: HOSTS PG_PORT SUPERUSER POOL_AUTH_SQL
IFS= read -r PGPASSWORD || die "no superuser password on stdin"
export PGPASSWORD
server="host=$HOSTS port=$PG_PORT user=$SUPERUSER target_session_attrs=read-write connect_timeout=5"
conn="$server dbname=postgres"
while IFS=$'\t' read -r name password options || [ -n "${name:-}" ]; do
  [ -n "$name" ] || continue
  # The statement carries a SCRAM verifier, never the password: statement logs cannot leak it.
  verifier=$(printf '%s' "$password" | scram_verifier)
  sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$name') THEN CREATE ROLE \"$name\"; END IF;
END \$\$;
ALTER ROLE \"$name\" WITH ${options} PASSWORD '$verifier';"
  psql -X -q -v ON_ERROR_STOP=1 "$conn" >/dev/null <<<"$sql" || die "could not create or update role $name"
  log "role $name is present (${options})"
done
if [ -n "$POOL_AUTH_SQL" ]; then
  databases=$(psql -X -qAt "$conn" -c "select datname from pg_database where datallowconn order by 1") ||
    die "could not list the databases"
  while IFS= read -r db; do
    [ -n "$db" ] || continue
    PGDATABASE=$db psql -X -q -v ON_ERROR_STOP=1 "$server" >/dev/null <<<"$POOL_AUTH_SQL" ||
      die "could not create PgBouncer's lookup function in database $db"
  done <<<"$databases"
  log "PgBouncer's lookup function is present in: $(paste -sd' ' <<<"$databases")"
fi
