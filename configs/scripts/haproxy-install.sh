# Install HAProxy from the OS packages.
# Variables: PACKAGES_DEBIAN PACKAGES_RHEL
family=$(os_family)
if [ "$family" = debian ]; then pkg_install debian "${PACKAGES_DEBIAN[@]}"; else pkg_install rhel "${PACKAGES_RHEL[@]}"; fi
log "$(haproxy -v | head -n 1) installed"
