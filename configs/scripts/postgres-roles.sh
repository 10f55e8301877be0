# Create or update the extra roles on the primary. stdin: the superuser's password on the first
# line, then one "name<TAB>password<TAB>options" line per role. Nothing secret is printed.
# Variables: HOSTS PG_PORT SUPERUSER
IFS= read -r PGPASSWORD || die "no superuser password on stdin"
export PGPASSWORD
conn="host=$HOSTS port=$PG_PORT dbname=postgres user=$SUPERUSER target_session_attrs=read-write connect_timeout=5"
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
