# Check the new haproxy.cfg with `haproxy -c` before it replaces the old one, then reload.
# Servers' states are saved first: a new process would otherwise count every server UP until its
# first health check, and send read-write clients to replicas for a moment.
# A router switching from plain text to TLS (switching_to_tls) first installs the virtual IP's
# check that accepts the stats page in either scheme (VIP_CHECK, when the router holds a virtual
# IP: the stats page moves to TLS with this reload), and once reloaded ends the hold of tls-switch.sh:
# the saved states kept every server where it was, and the checks, now over TLS, take over.
# Variables: CONFIG_PATH CONFIG STATE_FILE ADMIN_SOCKET VIP_CHECK_PATH VIP_CHECK SERVERS
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$CONFIG" >"$tmp"
install -d -m 0755 /run/haproxy
haproxy -c -q -f "$tmp" || die "haproxy rejected the rendered configuration"
config=$(install_file "$tmp" "$CONFIG_PATH" 0640 root:haproxy)
install -d -m 0755 "$(dirname "$STATE_FILE")"
# The process id of the worker that answers on the admin socket.
haproxy_pid() { echo "show info" | socat stdio "unix-connect:$ADMIN_SOCKET" 2>/dev/null | sed -n 's/^Pid: //p'; }
switching=false
if switching_to_tls && systemctl is-active --quiet haproxy; then switching=true; fi
if [ "$switching" = true ] && [ -n "$VIP_CHECK" ] && [ -f "$VIP_CHECK_PATH" ]; then
  write_file "$VIP_CHECK_PATH" 0755 root:root "$VIP_CHECK" >/dev/null
fi
if [ "$config" = changed ] && systemctl is-active --quiet haproxy; then
  log "configuration changed: saving server states and reloading HAProxy"
  worker=$(haproxy_pid)
  echo "show servers state" | socat stdio "unix-connect:$ADMIN_SOCKET" >"$STATE_FILE.new"
  mv -f "$STATE_FILE.new" "$STATE_FILE"
  systemctl reload haproxy
  # The admin socket answers from the new worker once it runs (the hold below ends there).
  new_worker() { local pid; pid=$(haproxy_pid) && [ -n "$pid" ] && [ "$pid" != "$worker" ]; }
  if [ "$switching" = true ]; then wait_until 30 "the reloaded HAProxy to answer on its admin socket" new_worker; fi
fi
if [ "$switching" = true ]; then
  for server in "${SERVERS[@]}"; do
    echo "enable health $server" | socat stdio "unix-connect:$ADMIN_SOCKET" >/dev/null
  done
  log "HAProxy's health checks run again, over TLS"
fi
