# Install keepalived from the OS packages; it starts only once configured.
# Variables: PACKAGES_DEBIAN PACKAGES_RHEL
family=$(os_family)
if [ "$family" = debian ]; then pkg_install debian "${PACKAGES_DEBIAN[@]}"; else pkg_install rhel "${PACKAGES_RHEL[@]}"; fi
log "$(keepalived --version 2>&1 | head -n 1) installed"
