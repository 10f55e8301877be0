# `ctl restore --into`, on the source stack's repository host: accept the target primary's key
# (ACTION=grant, PUBLIC_KEY) for the repository's user, from that address only and
# without forwarding; ACTION=revoke removes it. Marked by MARK, so that a re-run replaces it.
# Variables: ACTION REPO_USER FROM MARK PUBLIC_KEY
home=$(getent passwd "$REPO_USER" | cut -d: -f6)
[ -n "$home" ] || die "no repository user $REPO_USER on $(hostname): is this the repository host?"
group=$(id -gn "$REPO_USER")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{ grep -v " $MARK\$" "$home/.ssh/authorized_keys" 2>/dev/null || true; } >"$tmp"
case "$ACTION" in
  grant)
    read -r type key _ <<<"$PUBLIC_KEY"
    if [ "$type" != ssh-ed25519 ] || [ -z "$key" ]; then die "PUBLIC_KEY is not an ssh-ed25519 public key"; fi
    printf 'from="%s",no-agent-forwarding,no-port-forwarding,no-X11-forwarding,no-pty %s %s %s\n' \
      "$FROM" "$type" "$key" "$MARK" >>"$tmp"
    install_file "$tmp" "$home/.ssh/authorized_keys" 0600 "$REPO_USER:$group" >/dev/null
    log "$REPO_USER accepts the restore's key from $FROM"
    ;;
  revoke)
    install_file "$tmp" "$home/.ssh/authorized_keys" 0600 "$REPO_USER:$group" >/dev/null
    log "$REPO_USER no longer accepts the restore's key"
    ;;
  *) die "unknown ACTION $ACTION" ;;
esac
