# Install the packages of every role this host runs in one transaction (the role steps that follow
# find them installed). PostgreSQL's packages must not create and start a 'main' cluster, and no
# service starts with the distribution's defaults (apt_install's policy-rc.d).
# First, before anything on the host changes: the transport check (see transport_unchanged). A
# running host in plain text that the stack now wants in TLS is marked as switching; one in TLS
# that the stack wants in plain text refuses to go on.
# Variables: PACKAGES_DEBIAN PACKAGES_RHEL TRANSPORT TRANSPORT_PATH
transport_unchanged "$TRANSPORT" "$TRANSPORT_PATH"
family=$(os_family)
if [ "$family" = debian ]; then
  install -d -m 0755 /etc/postgresql-common
  if ! grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
    printf 'create_main_cluster = false\n' >>/etc/postgresql-common/createcluster.conf
  fi
  [ "${#PACKAGES_DEBIAN[@]}" -eq 0 ] || pkg_install debian "${PACKAGES_DEBIAN[@]}"
else
  [ "${#PACKAGES_RHEL[@]}" -eq 0 ] || pkg_install rhel "${PACKAGES_RHEL[@]}"
fi
