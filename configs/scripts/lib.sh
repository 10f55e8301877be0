# Shared prelude of every patroni-stack remote script (sourced text, not run alone).
# Scripts run as root, are idempotent, and never print a secret: secrets come on stdin only.
set -euo pipefail
shopt -s inherit_errexit
umask 022
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# TLS stacks: etcdctl, curl and psql find the CA and the host's client certificate here.
if [ -n "${PATRONI_STACK_CLIENT_ENV:-}" ] && [ -r "$PATRONI_STACK_CLIENT_ENV" ]; then
  # shellcheck source=/dev/null
  . "$PATRONI_STACK_CLIENT_ENV"
fi

log() { printf '[patroni-stack] %s\n' "$*"; }
die() {
  printf '[patroni-stack] ERROR: %s\n' "$*" >&2
  exit 1
}

# Every script calls this first (the functions above and below can be used without root).
require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (set hosts[].ssh.sudo for a non-root SSH user)"
}

# The transport the stack asks for (tls or plain) against the one this host's services were set up
# with (recorded in FILE). A running host in plain text that the stack now wants in TLS records
# `plain-to-tls`: the steps of this up switch it in turn (etcd serves both schemes while its
# clients move, Patroni restarts under a paused cluster while HAProxy's checks hold their state),
# and the stack's last step on the host records `tls`. Going back from TLS to plain text is not
# done in place: a host with etcd, Patroni or HAProxy running refuses, before anything changes.
# A host with none of them running (new, or after a destroy) records the new transport. A switch
# needs etcd 3.5 or later (serving both schemes on one client port): an older etcd refuses before
# the host is marked, and a host marked by an up that stopped before any service moved to TLS (no
# service's configuration names a certificate yet) may go back to plain text.
transport_unchanged() { # WANT FILE
  local want=$1 file=$2 was="" unit running=() record=$1
  [ -r "$file" ] && was=$(<"$file")
  for unit in etcd patroni haproxy; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then running+=("$unit"); fi
  done
  if [ -n "$was" ] && [ "${#running[@]}" -gt 0 ]; then
    if [ "$was" = plain ] && [ "$want" = tls ]; then
      etcd_can_switch || die "tls.enabled turned on for a running cluster, but this host runs etcd $(etcd_version): etcd before 3.5 cannot serve plain text and TLS on one client port, which the switch in place needs, and nothing was changed. Set tls.enabled back to false, or upgrade etcd to 3.5 or later (Debian trixie has 3.5) and run up again, or create a new stack with TLS and move the data there (README, TLS on every hop)"
      log "tls.enabled turned on for a running cluster: ${running[*]} on this host switch from plain text to TLS in this up, one service at a time"
      record=plain-to-tls
    elif [ "$was" = plain-to-tls ] && [ "$want" = plain ] && ! services_name_certificates; then
      log "tls.enabled is off again before any service on this host moved to TLS: it stays in plain text"
    elif [ "$was" = plain-to-tls ] && [ "$want" = tls ]; then
      log "this host is still switching from plain text to TLS: this up goes on with it"
      record=plain-to-tls
    elif [ "$was" != "$want" ]; then
      die "tls.enabled changed on a running cluster: ${running[*]} on this host run with ${was#plain-to-}, the stack now asks for $want. Turning TLS off for a running cluster is not done in place, and nothing was changed: set tls.enabled back to true, or create a new stack in plain text and move the data there (README, TLS on every hop)"
    fi
  fi
  if [ "$was" != "$record" ]; then
    install -d -m 0755 "$(dirname "$file")"
    printf '%s\n' "$record" >"$file"
  fi
}

# etcd's version on this host ("3.5.16"), empty without etcd.
etcd_version() { etcd --version 2>/dev/null | awk '/^etcd Version:/ { print $3 }'; }

# Whether etcd here (if any) can serve plain text and TLS side by side on its client port (3.5+).
etcd_can_switch() {
  local version major minor
  version=$(etcd_version)
  [ -n "$version" ] || return 0
  IFS=. read -r major minor _ <<<"$version"
  [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 5 ]; }
}

# Whether a service's configuration on this host names one of the stack's certificates (it was
# set up for TLS, or has moved to it in a switch).
services_name_certificates() {
  local file
  for file in "${PATRONI_STACK_SERVICE_CONFIGS[@]}"; do
    if grep -qsF "$PATRONI_STACK_TLS_DIR/" "$file"; then return 0; fi
  done
  return 1
}

# Whether this host is switching from plain text to TLS in this up (see transport_unchanged).
switching_to_tls() { [ "$(cat "${PATRONI_STACK_TRANSPORT:-/nonexistent}" 2>/dev/null)" = plain-to-tls ]; }

# Prints debian or rhel, from /etc/os-release (OS_RELEASE overrides the path, for tests).
os_family() {
  local id like release=${OS_RELEASE:-/etc/os-release}
  # shellcheck source=/dev/null
  id=$(. "$release" && echo "${ID:-}")
  # shellcheck source=/dev/null
  like=$(. "$release" && echo "${ID_LIKE:-}")
  case " $id $like " in
    *" debian "* | *" ubuntu "*) echo debian ;;
    *" rhel "* | *" centos "* | *" fedora "* | *" rocky "* | *" almalinux "*) echo rhel ;;
    *) die "unsupported OS '$id': use Debian/Ubuntu (apt) or RHEL/CentOS/Rocky/Alma (dnf, yum)" ;;
  esac
}

# pkg_install FAMILY PACKAGE...: install what is missing. Co-located roles take turns.
pkg_install() {
  local family=$1
  shift
  exec 9>/var/lock/patroni-stack-packages.lock
  flock 9
  case "$family" in
    debian) apt_install "$@" ;;
    rhel) dnf_install "$@" ;;
  esac
  flock -u 9
}

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "packages already installed: $*"
    return 0
  fi
  log "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # The distribution's services must not start with their defaults: patroni-stack configures them.
  local own_policy=0 policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own_policy=1
  fi
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
  local rc=0
  if ! "${apt[@]}" install --no-install-recommends "${missing[@]}"; then
    log "refreshing the package lists and retrying"
    { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "${missing[@]}"; } || rc=$?
  fi
  if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || die "apt-get could not install ${missing[*]}"
}

dnf_install() {
  local pm=dnf
  command -v dnf >/dev/null 2>&1 || pm=yum
  if rpm -q "$@" >/dev/null 2>&1; then
    log "packages already installed: $*"
    return 0
  fi
  log "installing $* ($pm)"
  "$pm" install -y -q "$@"
}

# wait_until SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.2 s until it succeeds (a chain of
# start steps each waiting on the one before adds up the polling interval).
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

# install_file SOURCE DEST MODE OWNER:GROUP: replace DEST only when its content differs.
# Prints "changed" or "unchanged" (its log line goes to stderr): status=$(install_file ...).
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
    echo unchanged
    return 0
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.patroni-stack.new"
  mv -f "$dest.patroni-stack.new" "$dest"
  log "wrote $dest" >&2
  echo changed
}

# write_file DEST MODE OWNER:GROUP CONTENT: install_file from a string (prints the same status).
write_file() {
  local tmp status
  tmp=$(mktemp)
  printf '%s\n' "$4" >"$tmp"
  status=$(install_file "$tmp" "$1" "$2" "$3")
  rm -f "$tmp"
  echo "$status"
}

# scram_verifier < PASSWORD: PostgreSQL's SCRAM-SHA-256 verifier of the password on stdin
# (RFC 7677, 4096 iterations, random salt), for `ALTER ROLE ... PASSWORD '<verifier>'`.
scram_verifier() {
  python3 -c '
import base64, hashlib, hmac, os, sys
password = sys.stdin.buffer.read()
salt, rounds = os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, rounds)
client = hmac.new(salted, b"Client Key", "sha256").digest()
server = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print("SCRAM-SHA-256$%d:%s$%s:%s" % (rounds, b64(salt), b64(hashlib.sha256(client).digest()), b64(server)))'
}

# http_status URL: the HTTP status code, or 000 when nothing answers.
http_status() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" || true; }

# Exit status 0 when URL answers 200.
http_ok() { [ "$(http_status "$1")" = 200 ]; }

# restapi_auth PATRONI_YML: the REST API's basic-auth credentials as a curl config line, read
# from patroni.yml, for `curl --config` (never argv). Prints nothing when auth is off.
restapi_auth() {
  python3 - "$1" <<'PY'
import sys, yaml
auth = (yaml.safe_load(open(sys.argv[1])).get("restapi") or {}).get("authentication") or {}
if auth:
    print('user = "%s:%s"' % (auth["username"], auth["password"]))
PY
}

# json_field KEY < JSON: the string value of KEY in the JSON object on stdin (for secrets sent
# as one JSON document on stdin; the value is written to stdout, never logged).
json_field() {
  python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# backup_input INPUT KEY_FILE CONFIG_FILE: the backup steps' stdin, JSON {"privateKey",
# "peerPublicKey", "config"}, kept in INPUT; the private key and pgbackrest.conf are written to
# their files (private to root), the peer's public key is printed. The caller removes the files.
backup_input() {
  local was
  was=$(umask)
  umask 077
  cat >"$1"
  json_field privateKey <"$1" >"$2"
  json_field config <"$1" >"$3"
  umask "$was"
  [ -s "$3" ] || die "no pgbackrest.conf on stdin"
  json_field peerPublicKey <"$1"
}

# ssh_trust USER KEY_FILE PEER_PUBLIC_KEY FROM PEER...: the backup's SSH trust between USER here
# and the peers: USER's identity (the private key in KEY_FILE), the one peer key it accepts (from
# the FROM addresses only, without forwarding or a terminal), the peers' host keys as scanned
# now, and an ssh_config block for the peers. Only files and blocks of its own are replaced.
ssh_trust() {
  local user=$1 key=$2 pub=$3 from=$4
  shift 4
  local home group tmp peer scanned
  home=$(getent passwd "$user" | cut -d: -f6)
  group=$(id -gn "$user")
  [ -n "$home" ] || die "user $user has no home directory"
  install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
  install_file "$key" "$home/.ssh/patroni-stack-backup" 0600 "$user:$group" >/dev/null
  tmp=$(mktemp)
  { grep -v ' patroni-stack-backup$' "$home/.ssh/authorized_keys" 2>/dev/null || true; } >"$tmp"
  printf 'from="%s",no-agent-forwarding,no-port-forwarding,no-X11-forwarding,no-pty %s\n' "$from" "$pub" >>"$tmp"
  install_file "$tmp" "$home/.ssh/authorized_keys" 0600 "$user:$group" >/dev/null
  : >"$tmp"
  for peer in "$@"; do
    scanned=""
    local deadline=$((SECONDS + 60))
    until scanned=$(ssh-keyscan -T 3 -t ed25519 "$peer" 2>/dev/null) && [ -n "$scanned" ]; do
      [ "$SECONDS" -lt "$deadline" ] || die "no SSH host key from $peer (port 22): is its sshd reachable from $(hostname)?"
      sleep 0.5
    done
    printf '%s\n' "$scanned" >>"$tmp"
  done
  install_file "$tmp" "$home/.ssh/patroni-stack-known_hosts" 0644 "$user:$group" >/dev/null
  rm -f "$tmp"
  python3 - "$home/.ssh/config" "$home/.ssh/patroni-stack-backup" "$home/.ssh/patroni-stack-known_hosts" "$@" <<'PY'
import os, re, sys
path, key, known, peers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
block = "\n".join([
    "# BEGIN patroni-stack backup (managed: changes are overwritten)",
    "Host " + " ".join(peers),
    "  IdentityFile " + key,
    "  IdentitiesOnly yes",
    "  UserKnownHostsFile " + known,
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "# END patroni-stack backup",
    "",
])
old = open(path).read() if os.path.exists(path) else ""
new = re.sub(r"# BEGIN patroni-stack backup.*?# END patroni-stack backup\n", "", old, flags=re.S)
new = block + new
if new != old:
    with open(path + ".new", "w") as f:
        f.write(new)
    os.replace(path + ".new", path)
PY
  chown "$user:$group" "$home/.ssh/config"
  chmod 0600 "$home/.ssh/config"
}
