# Install etcd from the OS packages and keep the distribution's default instance out of the way.
# Variables: PACKAGES_DEBIAN PACKAGES_RHEL CONFIG_PATH
family=$(os_family)
if [ "$family" = debian ]; then pkg_install debian "${PACKAGES_DEBIAN[@]}"; else pkg_install rhel "${PACKAGES_RHEL[@]}"; fi
command -v etcd >/dev/null || die "the etcd package did not provide /usr/bin/etcd"
id etcd >/dev/null 2>&1 || useradd --system --home-dir /var/lib/etcd --shell /usr/sbin/nologin etcd
# A default-configured etcd (the package's) is stopped; one we configured is left running.
if [ ! -f "$CONFIG_PATH" ] && systemctl is-active --quiet etcd; then
  log "stopping the distribution's default etcd"
  systemctl stop etcd
fi
log "etcd $(etcd --version | awk '/etcd Version/ {print $3}') installed"
