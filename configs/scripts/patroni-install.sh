# Install PostgreSQL and Patroni; remove the distribution's own PostgreSQL cluster and service;
# prepare only the parent of the data directory (Patroni creates the data directory itself).
# Variables: PG_VERSION PACKAGES_DEBIAN PACKAGES_RHEL DATA_DIR PG_BIN_LINK PGPASS_DIR CONFIG_DIR
family=$(os_family)
if [ "$family" = debian ]; then
  # Keep postgresql-common from creating and starting a 'main' cluster.
  install -d -m 0755 /etc/postgresql-common
  if ! grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
    printf 'create_main_cluster = false\n' >>/etc/postgresql-common/createcluster.conf
  fi
  pkg_install debian "${PACKAGES_DEBIAN[@]}"
  bin_dir=/usr/lib/postgresql/$PG_VERSION/bin
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h "$PG_VERSION" main 2>/dev/null | grep -q .; then
    log "dropping the distribution's default cluster $PG_VERSION/main"
    pg_dropcluster --stop "$PG_VERSION" main
  fi
  distro_service=postgresql
else
  pkg_install rhel "${PACKAGES_RHEL[@]}"
  bin_dir=/usr/pgsql-$PG_VERSION/bin
  distro_service=postgresql-$PG_VERSION
fi
[ -x "$bin_dir/postgres" ] || die "PostgreSQL $PG_VERSION binaries not found in $bin_dir: check postgresql.version and the package names"
command -v patroni >/dev/null || die "the Patroni package did not provide 'patroni'"
if systemctl list-unit-files "$distro_service.service" >/dev/null 2>&1; then
  systemctl disable --now "$distro_service" >/dev/null 2>&1 || true
fi
install -d -m 0755 "$(dirname "$PG_BIN_LINK")"
ln -sfn "$bin_dir" "$PG_BIN_LINK"

parent=$(dirname "$DATA_DIR")
if [ ! -d "$parent" ]; then
  install -d -m 0750 -o postgres -g postgres "$parent"
elif [ "$(stat -c %U "$parent")" != postgres ] && [ ! -d "$DATA_DIR" ]; then
  if [ "$(find "$parent" -mindepth 1 -maxdepth 1 | head -n 1)" = "" ]; then
    chown postgres:postgres "$parent"
  else
    die "$parent exists, is not empty and is not owned by postgres: chown it or choose another postgresql.dataDir"
  fi
fi
install -d -m 0700 -o postgres -g postgres "$PGPASS_DIR"
install -d -m 0750 -o root -g postgres "$CONFIG_DIR"
log "PostgreSQL $PG_VERSION and Patroni $(patroni --version 2>/dev/null | awk '{print $2}') installed"
