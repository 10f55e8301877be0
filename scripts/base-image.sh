#!/usr/bin/env bash
# Provide a local Debian base image for the host containers.
#
#   scripts/base-image.sh [suite]        (default suite: bookworm)
#
# Result: image "${BASE_IMAGE_REPO:-patroni-stack/debian}:<suite>" in the local engine;
# its name is printed on stdout (progress goes to stderr).
#
# Order of attempts:
#   1. the image already exists locally            -> done (fast path)
#   2. the rootfs tarball is cached                -> `docker import` it
#   3. `docker pull debian:<suite>` and retag it   (skipped when DEBIAN_MIRROR is set,
#                                                   or BASE_IMAGE_PULL=0)
#   4. debootstrap --variant=minbase (root + apt)  -> cache the tarball, `docker import` it
#
# The Debian mirror is never hard-coded: it is read from this machine's apt sources
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources) unless
# DEBIAN_MIRROR (and optionally DEBIAN_SECURITY_MIRROR) is set. The image's own apt
# sources point at the same mirror.
#
# Environment:
#   DEBIAN_MIRROR           main archive URL (default: derived from apt sources)
#   DEBIAN_SECURITY_MIRROR  security archive URL (default: derived; empty -> none)
#   BASE_IMAGE_REPO         image repository (default patroni-stack/debian)
#   BASE_IMAGE_PULL         1 (default) try `docker pull debian:<suite>` first; 0 never
#   BASE_IMAGE_REBUILD      1 -> ignore the existing image and the cached tarball
#   PATRONI_STACK_CACHE     cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/patroni-stack)
#
# Idempotent; safe to re-run after an interrupted run (work dir is recreated, partial
# tarballs are never used, a lock serialises concurrent runs for the same suite).
set -euo pipefail

log() { printf 'base-image: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

suite="${1:-bookworm}"
[[ "$suite" =~ ^[a-z][a-z0-9-]*$ ]] || die "bad suite name '$suite'"
repo="${BASE_IMAGE_REPO:-patroni-stack/debian}"
image="$repo:$suite"
rebuild="${BASE_IMAGE_REBUILD:-0}"
cache="${PATRONI_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/patroni-stack}"

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/docker-engine.sh first"

image_exists() { docker image inspect "$image" >/dev/null 2>&1; }

if [[ "$rebuild" != 1 ]] && image_exists; then
    log "$image present"
    printf '%s\n' "$image"
    exit 0
fi

mkdir -p "$cache"
arch="$(dpkg --print-architecture 2>/dev/null || true)"
if [[ -z "$arch" ]]; then
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) arch="$(uname -m)" ;;
    esac
fi
tarball="$cache/debian-$suite-$arch-minbase.tar.gz"
workdir="$cache/build-$suite-$arch"

# Serialise concurrent runs for the same suite (e.g. two stacks deploying at once).
lock="$cache/base-image-$suite.lock"
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
    if ! flock -n 9; then
        log "another base-image.sh run for $suite holds $lock; waiting (max 15 min)"
        flock -w 900 9 || die "timed out waiting for $lock"
    fi
    # Another run may have finished while we waited.
    if [[ "$rebuild" != 1 ]] && image_exists; then
        log "$image present"
        printf '%s\n' "$image"
        exit 0
    fi
fi

# Unmount anything debootstrap left mounted inside the work dir (an interrupted run
# leaves proc/sys mounted), then delete it without ever crossing into another fs.
cleanup_workdir() {
    [[ -e "$workdir" ]] || return 0
    local mnt
    if [[ -r /proc/self/mounts ]]; then
        # Deepest mount points first.
        while IFS= read -r mnt; do
            umount -l "$mnt" 2>/dev/null || true
        done < <(awk -v d="$workdir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
    fi
    rm -rf --one-file-system "$workdir"
}

import_tarball() {
    local t0=$SECONDS old new
    old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    log "importing $tarball as $image"
    new="$(docker import \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $suite ($arch)" \
        "$tarball" "$image")"
    # On a rebuild, drop the previous (now untagged) image unless something still uses it.
    if [[ -n "$old" && "$old" != "$new" ]]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
    log "imported in $(( SECONDS - t0 ))s"
}

if [[ "$rebuild" != 1 && -s "$tarball" ]]; then
    import_tarball
    printf '%s\n' "$image"
    exit 0
fi

# ---- Optional: pull the official image (typical developer machine) -----------------
if [[ -z "${DEBIAN_MIRROR:-}" && "${BASE_IMAGE_PULL:-1}" == 1 ]]; then
    log "trying docker pull debian:$suite"
    if timeout 120 docker pull -q "debian:$suite" >/dev/null 2>&1 9>&-; then
        docker tag "debian:$suite" "$image"
        log "using pulled debian:$suite as $image"
        printf '%s\n' "$image"
        exit 0
    fi
    log "pull failed (no registry reachable?); building with debootstrap"
fi

# ---- Mirror discovery ----------------------------------------------------------------
# Prints "uri<TAB>suite" for every enabled `deb` entry of the local apt sources.
apt_deb_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        # deb [opts] uri suite component...
        sed -e 's/#.*//' "$f" | awk '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if (i + 1 <= NF) print $i "\t" $(i + 1)
            }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        # deb822 stanzas separated by blank lines; comment lines are dropped (they do
        # not separate stanzas).
        sed -e '/^[[:space:]]*#/d' "$f" | awk '
            function flush(   n, m, u, s, t, i, j, isdeb) {
                isdeb = 0
                n = split(types, t, /[ \t]+/)
                for (i = 1; i <= n; i++) if (t[i] == "deb") isdeb = 1
                if (isdeb && tolower(enabled) != "no") {
                    n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
                    for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                        if (u[i] != "" && s[j] != "") print u[i] "\t" s[j]
                }
                types = uris = suites = enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
            key == "types:"   { types = $0 }
            key == "uris:"    { uris = $0 }
            key == "suites:"  { suites = $0 }
            key == "enabled:" { enabled = $0 }
            END { flush() }'
    done
}

os_field() { sed -n "s/^$1=//p" /etc/os-release 2>/dev/null | tr -d '"' | head -n 1; }
host_codename=""
[[ "$(os_field ID)" == debian ]] && host_codename="$(os_field VERSION_CODENAME)"
entries="$(apt_deb_entries || true)"

pick_mirror() {
    # 1) on a Debian host: the archive serving its own release,
    # 2) otherwise any non-security URI ending in /debian
    local uri
    if [[ -n "$host_codename" ]]; then
        uri="$(awk -F'\t' -v c="$host_codename" '$2 == c { print $1; exit }' <<<"$entries")"
        [[ -n "$uri" ]] && { printf '%s' "$uri"; return; }
    fi
    awk -F'\t' '$2 !~ /-security$/ && $1 ~ /\/debian\/?$/ { print $1; exit }' <<<"$entries"
}
pick_security_mirror() {
    awk -F'\t' '$2 ~ /-security$/ || $2 ~ /\/updates$/ { print $1; exit }' <<<"$entries"
}

mirror="${DEBIAN_MIRROR:-$(pick_mirror)}"
[[ -n "$mirror" ]] || die "could not derive a Debian mirror from /etc/apt/sources*; set DEBIAN_MIRROR=<url of the Debian main archive>"
if [[ -n "${DEBIAN_SECURITY_MIRROR+set}" ]]; then
    security_mirror="$DEBIAN_SECURITY_MIRROR"
else
    security_mirror="$(pick_security_mirror)"
fi
mirror="${mirror%/}"
security_mirror="${security_mirror%/}"
log "mirror: $mirror${security_mirror:+ (security: $security_mirror)}"

# ---- debootstrap -----------------------------------------------------------------------
[[ "$(id -u)" -eq 0 ]] || die "building $image needs root (debootstrap); re-run as root or make debian:$suite pullable"
if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap missing and no apt-get to install it"
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends debootstrap >&2
fi

trap cleanup_workdir EXIT
trap 'exit 130' INT TERM
cleanup_workdir
mkdir -p "$workdir"
rootfs="$workdir/rootfs"

t0=$SECONDS
log "debootstrap --variant=minbase $suite ($arch) ..."
# 9>&-: children must not inherit the lock (orphans of a killed run would hold it).
if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 9>&-; then
    tail -n 20 "$workdir/debootstrap.log" >&2 || true
    tail -n 20 "$rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    die "debootstrap failed"
fi
log "debootstrap done in $(( SECONDS - t0 ))s"

# apt sources in the image: same mirror as the host, plus -updates and -security.
rm -f "$rootfs/etc/apt/sources.list"
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$suite" "$suite"
    if [[ -n "$security_mirror" ]]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$security_mirror" "$suite"
    fi
} >"$rootfs/etc/apt/sources.list.d/debian.sources"

# Container hygiene, like Debian's official image: no downloaded lists/debs, no machine
# identity, no host leftovers. (No policy-rc.d: the hosts must behave like real machines
# where installing a package starts its service.)
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs/debootstrap"
rm -f "$rootfs/etc/machine-id" "$rootfs/var/lib/dbus/machine-id"
printf 'localhost\n' >"$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

t0=$SECONDS
log "packing rootfs"
tar --numeric-owner --xattrs --acls -C "$rootfs" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' --exclude='./tmp/*' \
    -czf "$tarball.partial" .
mv -f "$tarball.partial" "$tarball"
log "cached $tarball ($(du -h "$tarball" | cut -f1)) in $(( SECONDS - t0 ))s"

cleanup_workdir
import_tarball
printf '%s\n' "$image"
