#!/usr/bin/env bash
# scripts/toolchain.sh - make the Pulumi toolchain this project pins available.
#
# Provides, at exactly the pinned versions:
#   pulumi, pulumi-language-nodejs          (Pulumi CLI + Node.js language host)
#   pulumi-resource-command, -random, -docker (provider plugins)
#
# 1. If a working `pulumi` on PATH reports the pinned version and every
#    component is already there (on PATH, beside pulumi, or in `pulumi plugin ls`),
#    nothing is built.
# 2. Otherwise the missing components are built from their Go modules, fetched
#    only through `go`'s own module download (whatever GOPROXY is configured),
#    with the version stamped in, and cached under
#    ${TOOLCHAIN_CACHE_DIR:-$HOME/.cache/patroni-stack/toolchain}/<component>-<version>/.
#    A second run only checks the cached binaries (seconds).
#
# Usage: scripts/toolchain.sh [--print-env | --check | --versions | --help]
#   (no flag)     ensure the toolchain; print ONE line on stdout: the bin dir to put on PATH
#   --print-env   ensure the toolchain; print `export ...` lines (eval "$(scripts/toolchain.sh --print-env)")
#   --check       build nothing; report each component; exit 0 if all present, 1 if not
#   --versions    print the pinned versions (name=version lines) and exit
# Progress goes to stderr; stdout carries only the result.
#
# Exit codes: 0 ok, 1 build/verification failure or (--check) something missing,
#             2 usage, 3 a module needed for a build is refused by the module source
#             (cannot be built on this machine), 4 required tool (go/node) missing.
#
# Environment: TOOLCHAIN_CACHE_DIR (cache root), TOOLCHAIN_PULUMI_COMMIT (git commit of
# the pulumi release, used for the language host when it cannot be derived),
# TOOLCHAIN_DOCKER_UPSTREAM_VERSION (module version of the upstream Terraform docker
# provider that pulumi-docker vendors as a git submodule; required to build docker).
set -euo pipefail

# ---------------------------------------------------------------- pinned versions
# Fallbacks only: node_modules/@pulumi/<pkg>/package.json (.pulumi.version, else .version)
# wins, then the exact pin in package.json, then these constants.
PULUMI_VERSION_DEFAULT=3.270.0   # @pulumi/pulumi -> CLI + language host
COMMAND_VERSION_DEFAULT=1.2.1    # @pulumi/command
RANDOM_VERSION_DEFAULT=4.21.2    # @pulumi/random
DOCKER_VERSION_DEFAULT=5.2.0     # @pulumi/docker

COMPONENTS=(pulumi language-nodejs command random docker)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
TEMPLATE_DIR="$SCRIPT_DIR/toolchain"

PULUMI_MOD=github.com/pulumi/pulumi/pkg/v3
PULUMI_SDK_MOD=github.com/pulumi/pulumi/sdk/v3
LANGHOST_MOD=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
PULUMI_VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
# The docker provider's Terraform upstream (a git submodule, not in the module zip) is
# published under this module, whose go.mod declares the path pulumi-docker requires.
DOCKER_UPSTREAM_MOD=github.com/kreuzwerker/terraform-provider-docker

# ---------------------------------------------------------------- helpers
log() { printf 'toolchain: %s\n' "$*" >&2; }
die() { local rc=$1; shift; log "ERROR: $*"; exit "$rc"; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; }

now() { date +%s; }
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

have() { command -v "$1" >/dev/null 2>&1; }

GO=""
find_go() {
	if [[ -n $GO ]]; then return 0; fi
	if have go; then GO=$(command -v go)
	elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
	else return 1; fi
}

# go with a predictable environment: never fetches a toolchain, ignores any go.work.
gocmd() {
	GOWORK=off GOTOOLCHAIN=local "$GO" "$@"
}

# json_get FIELD < json   (FIELD is a dotted path like Origin.Hash; prints "" if absent)
json_get() {
	node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  let v; try { v = JSON.parse(s); } catch (e) { v = undefined; }
  for (const k of process.argv[1].split(".")) v = (v == null) ? undefined : v[k];
  process.stdout.write(v == null ? "" : String(v));
});' "$1"
}

major_suffix() { # 4.21.2 -> /v4 ; 1.2.1 -> ""
	local major=${1%%.*}
	if ((major >= 2)); then printf '/v%s' "$major"; fi
}

# ---------------------------------------------------------------- versions
npm_version() { # PKG DEFAULT
	local pkg=$1 def=$2 v="" f="$PROJECT_ROOT/node_modules/@pulumi/$1/package.json"
	if have node; then
		if [[ -f $f ]]; then
			v=$(node -e 'const p=require(process.argv[1]); process.stdout.write(String((p.pulumi && p.pulumi.version) || p.version || ""))' "$f" 2>/dev/null || true)
		fi
		if [[ -z $v && -f $PROJECT_ROOT/package.json ]]; then
			v=$(node -e 'const p=require(process.argv[1]); const n="@pulumi/"+process.argv[2];
const d=Object.assign({}, p.devDependencies, p.dependencies); process.stdout.write(String(d[n] || ""))' \
				"$PROJECT_ROOT/package.json" "$pkg" 2>/dev/null || true)
		fi
	fi
	v=${v#v}
	[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || v=$def
	printf '%s' "$v"
}

declare -A VER BIN
resolve_versions() {
	VER[pulumi]=$(npm_version pulumi "$PULUMI_VERSION_DEFAULT")
	VER[language-nodejs]=${VER[pulumi]}
	VER[command]=$(npm_version command "$COMMAND_VERSION_DEFAULT")
	VER[random]=$(npm_version random "$RANDOM_VERSION_DEFAULT")
	VER[docker]=$(npm_version docker "$DOCKER_VERSION_DEFAULT")
	BIN[pulumi]=pulumi
	BIN[language-nodejs]=pulumi-language-nodejs
	BIN[command]=pulumi-resource-command
	BIN[random]=pulumi-resource-random
	BIN[docker]=pulumi-resource-docker
}

# ---------------------------------------------------------------- detection
# stamp_matches BINARY VERSION: the Go build info records a -X ...Version=<v>VERSION stamp
# (only binaries built without -trimpath record their -ldflags).
stamp_matches() {
	local info
	find_go || return 1
	info=$("$GO" version -m "$1" 2>/dev/null) || return 1
	grep -Eq -- "Version=v?${2//./\\.}([^0-9A-Za-z.+-]|$)" <<<"$info"
}

# binary_is_version BINARY VERSION: the binary lives in a versioned directory
# (a plugin directory such as resource-random-v4.21.2/, or this cache's random-4.21.2/),
# or its build info carries the version stamp.
binary_is_version() {
	local real
	real=$(realpath "$1" 2>/dev/null) || return 1
	if [[ "$(dirname "$real")/" =~ [-_]v?${2//./\\.}/$ ]]; then return 0; fi
	stamp_matches "$1" "$2"
}

pulumi_reports() { # BINARY VERSION
	local out
	out=$(PULUMI_SKIP_UPDATE_CHECK=true timeout 60 "$1" version </dev/null 2>/dev/null) || return 1
	[[ $(tr -d '[:space:]' <<<"$out") == "v$2" ]]
}

plugin_listed() { # PULUMI NAME VERSION
	PULUMI_SKIP_UPDATE_CHECK=true timeout 60 "$1" plugin ls --json </dev/null 2>/dev/null |
		node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  let l = []; try { l = JSON.parse(s) || []; } catch (e) {}
  const [name, ver] = process.argv.slice(1);
  const ok = l.some(p => p.name === name && (p.kind || "resource") === "resource" &&
                         String(p.version || "").replace(/^v/, "") === ver);
  process.exit(ok ? 0 : 1);
});' "$2" "$3"
}

# SRC[component] = path of the binary to use, or "plugin-ls" (found by pulumi itself)
declare -A SRC
detect_external() {
	local p dir c b
	p=$(command -v pulumi 2>/dev/null || true)
	if [[ -z $p ]] || ! pulumi_reports "$p" "${VER[pulumi]}"; then return 0; fi
	SRC[pulumi]=$p
	dir=$(dirname "$p")
	b=${BIN[language-nodejs]}
	if [[ -x $dir/$b ]]; then
		SRC[language-nodejs]=$dir/$b # ships with that CLI
	elif [[ -n $(command -v "$b" 2>/dev/null) ]] && binary_is_version "$(command -v "$b")" "${VER[pulumi]}"; then
		SRC[language-nodejs]=$(command -v "$b")
	fi
	for c in command random docker; do
		b=$(command -v "${BIN[$c]}" 2>/dev/null || true)
		if [[ -n $b ]] && binary_is_version "$b" "${VER[$c]}"; then
			SRC[$c]=$b
		elif plugin_listed "$p" "$c" "${VER[$c]}"; then
			SRC[$c]=plugin-ls
		fi
	done
}

comp_dir() { printf '%s/%s-%s' "$CACHE" "$1" "${VER[$1]}"; }

# cached_ok COMPONENT: a finished build (BUILDINFO is written last, and the directory is
# moved into place whole) whose binary is intact; pulumi must also run and report its version.
cached_ok() {
	local c=$1 dir bin
	dir=$(comp_dir "$c")
	bin="$dir/${BIN[$c]}"
	[[ -x $bin ]] && grep -qx "version=${VER[$c]}" "$dir/BUILDINFO" 2>/dev/null || return 1
	if [[ $c == pulumi ]]; then
		pulumi_reports "$bin" "${VER[pulumi]}"
	elif find_go; then
		"$GO" version -m "$bin" >/dev/null 2>&1
	fi
}

# ---------------------------------------------------------------- module resolution
declare -A MOD MODVER REFUSED
DL_JSON=""
# go_download MOD@VER: sets DL_JSON; returns non-zero on error (message in .Error)
go_download() {
	local rc=0
	DL_JSON=$(cd "$WORK_ROOT" && gocmd mod download -json "$1" 2>/dev/null) || rc=$?
	if [[ -z $DL_JSON ]]; then DL_JSON='{"Error":"go mod download produced no output"}'; fi
	return "$rc"
}

note_refusal() { # COMPONENT MOD@VER
	local err
	err=$(json_get Error <<<"$DL_JSON")
	err=${err#"$2: "}
	REFUSED[$1]+="    $2: ${err//$'\n'/ }"$'\n'
}

origin_hash() { # MOD@VER -> commit (or "")
	go_download "$1" || true
	json_get Origin.Hash <<<"$DL_JSON"
}

# resolve_component C: find MOD[C]/MODVER[C] and make sure the module can be downloaded.
resolve_component() {
	local c=$1 v=${VER[$1]} commit="" sdk name
	case $c in
	pulumi)
		MOD[$c]=$PULUMI_MOD
		MODVER[$c]=v$v
		;;
	language-nodejs)
		MOD[$c]=$LANGHOST_MOD
		if go_download "$LANGHOST_MOD@v$v"; then
			MODVER[$c]=v$v
			return 0
		fi
		commit=${TOOLCHAIN_PULUMI_COMMIT:-}
		[[ -n $commit ]] || commit=$(origin_hash "$PULUMI_SDK_MOD@v$v")
		[[ -n $commit ]] || commit=$(origin_hash "$PULUMI_MOD@v$v")
		if [[ -z $commit ]]; then
			REFUSED[$c]+="    $LANGHOST_MOD@v$v: not available, and the commit of pulumi v$v could not be derived (set TOOLCHAIN_PULUMI_COMMIT)"$'\n'
			return 1
		fi
		MODVER[$c]=$commit
		;;
	command | random | docker)
		name=pulumi-$c
		sdk="github.com/pulumi/$name/sdk$(major_suffix "$v")"
		MOD[$c]="github.com/pulumi/$name/provider$(major_suffix "$v")"
		# Releases are tagged vX.Y.Z and sdk/vX.Y.Z, never provider/..., so the provider
		# module of a release is addressed by the commit the sdk tag points at.
		if ! go_download "$sdk@v$v"; then
			note_refusal "$c" "$sdk@v$v"
			return 1
		fi
		commit=$(json_get Origin.Hash <<<"$DL_JSON")
		if [[ -z $commit ]]; then
			REFUSED[$c]+="    $sdk@v$v: the module source does not report the release commit"$'\n'
			return 1
		fi
		MODVER[$c]=$commit
		;;
	esac
	if ! go_download "${MOD[$c]}@${MODVER[$c]}"; then
		note_refusal "$c" "${MOD[$c]}@${MODVER[$c]}"
		return 1
	fi
	MODVER[$c]=$(json_get Version <<<"$DL_JSON") # canonical (pseudo-)version
	if [[ $c == docker && -z ${TOOLCHAIN_DOCKER_UPSTREAM_VERSION:-} ]]; then
		REFUSED[$c]+="    $DOCKER_UPSTREAM_MOD: set TOOLCHAIN_DOCKER_UPSTREAM_VERSION to the version pulumi-docker v$v pins as its upstream submodule"$'\n'
		return 1
	fi
}

# ---------------------------------------------------------------- build steps
# copy_module MOD@VER DEST: writable copy of a module's source from the module cache.
copy_module() {
	local dir
	go_download "$1" || die 1 "cannot download $1: $(json_get Error <<<"$DL_JSON")"
	dir=$(json_get Dir <<<"$DL_JSON")
	mkdir -p "$2"
	cp -R "$dir/." "$2/"
	chmod -R u+w "$2"
}

# The module's go.mod replace directives as "old|oldversion|new" lines.
list_replaces() {
	(cd "$1" && gocmd mod edit -json) | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  for (const r of (JSON.parse(s).Replace || []))
    console.log([r.Old.Path, r.Old.Version || "", r.New.Path + (r.New.Version ? "@" + r.New.Version : "")].join("|"));
});'
}

required_version() { # SRC MODPATH -> version the module requires of MODPATH
	(cd "$1" && gocmd mod edit -json) | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  const r = (JSON.parse(s).Require || []).find(x => x.Path === process.argv[1]);
  process.stdout.write(r ? r.Version : "");
});' "$2"
}

replace_with() { # SRC OLD OLDVERSION NEW
	local drop=$2
	[[ -z $3 ]] || drop="$2@$3"
	(cd "$1" && gocmd mod edit -dropreplace="$drop" -replace="$2=$4")
}

# Local replace targets (../sdk, ./shim, ../upstream) are not part of a module zip:
# point them at the pinned modules, or synthesise them.
fix_local_replaces() { # COMPONENT SRC
	local c=$1 src=$2 old oldv new uver upath shimdir
	while IFS='|' read -r old oldv new; do
		case $new in ./* | ../* | /*) ;; *) continue ;; esac
		if [[ -f $src/$new/go.mod ]]; then continue; fi
		case $old in
		"$PULUMI_SDK_MOD" | "$PULUMI_MOD")
			replace_with "$src" "$old" "$oldv" "$old@v${VER[pulumi]}"
			;;
		github.com/terraform-providers/terraform-provider-docker)
			[[ $c == docker ]] || die 1 "$c: unexpected local replace $old => $new"
			upath="$src/.toolchain/upstream"
			copy_module "$DOCKER_UPSTREAM_MOD@$TOOLCHAIN_DOCKER_UPSTREAM_VERSION" "$upath"
			if [[ -d $TEMPLATE_DIR/overlay-$c ]]; then cp -R "$TEMPLATE_DIR/overlay-$c/." "$upath/"; fi
			replace_with "$src" "$old" "$oldv" ./.toolchain/upstream
			;;
		*/shim)
			[[ -f $TEMPLATE_DIR/shim-$c/shim.go ]] || die 1 "$c: $old => $new is not in the module and there is no $TEMPLATE_DIR/shim-$c/shim.go"
			upath=${old%/shim}
			uver=$(required_version "$src" "$upath")
			[[ -n $uver ]] || die 1 "$c: $(basename "$src") does not require $upath; cannot build its shim"
			shimdir="$src/.toolchain/shim"
			mkdir -p "$shimdir"
			printf 'module %s\n\ngo 1.22\n\nrequire %s %s\n' "$old" "$upath" "$uver" >"$shimdir/go.mod"
			cp "$TEMPLATE_DIR/shim-$c/shim.go" "$shimdir/shim.go"
			replace_with "$src" "$old" "$oldv" ./.toolchain/shim
			;;
		*)
			die 1 "$c: go.mod replaces $old with $new, which is not part of the module"
			;;
		esac
	done < <(list_replaces "$src")
}

# Files named by //go:embed that are generated at release time (not in the module zip).
generate_embeds() { # VERSION SRC
	local v=$1 src=$2 file dir pat line
	while IFS= read -r line; do
		file=${line%%:*}
		dir=$(dirname "$file")
		for pat in ${line#*//go:embed }; do
			pat=${pat//\"/}
			[[ -e $dir/$pat ]] && continue
			case $(basename "$pat") in
			schema-embed.json)
				[[ -f $dir/$(dirname "$pat")/schema.json ]] || die 1 "no schema.json to generate $dir/$pat from"
				node -e '
const fs = require("fs"); const [from, to, ver] = process.argv.slice(1);
const s = JSON.parse(fs.readFileSync(from, "utf8")); s.version = ver;
fs.writeFileSync(to, JSON.stringify(s));' "$dir/$(dirname "$pat")/schema.json" "$dir/$pat" "$v"
				log "  generated $(basename "$dir")/$pat (version $v)"
				;;
			bridge-metadata.json)
				printf '{}\n' >"$dir/$pat"
				log "  generated empty $(basename "$dir")/$pat"
				;;
			*) if [[ $pat != *[*?[]* ]]; then die 1 "embedded file $dir/$pat is missing from the module"; fi ;;
			esac
		done
	done < <(grep -rE --include='*.go' --exclude='*_test.go' '^//go:embed ' "$src" || true)
}

version_var() { # COMPONENT SRC
	local c=$1 src=$2 d
	case $c in
	pulumi | language-nodejs) printf '%s' "$PULUMI_VERSION_VAR"; return 0 ;;
	esac
	for d in pkg/version version; do
		if grep -qsE '^[[:space:]]*(var[[:space:]]+)?Version[[:space:]]+string' "$src/$d"/*.go; then
			printf '%s/%s.Version' "${MOD[$c]}" "$d"
			return 0
		fi
	done
	die 1 "$c: cannot find the version variable (pkg/version.Version) in ${MOD[$c]}"
}

main_pkg_dir() { # COMPONENT SRC
	local c=$1 src=$2 d
	for d in "cmd/${BIN[$c]}" "."; do
		if grep -qsE '^package main' "$src/$d"/*.go; then printf './%s' "${d#./}"; return 0; fi
	done
	die 1 "$c: no main package for ${BIN[$c]} in ${MOD[$c]}"
}

estimate() {
	case $1 in
	pulumi) echo "10-15" ;; docker) echo "8-15" ;; random) echo "5-10" ;; *) echo "3-8" ;;
	esac
}

build_steps() { # COMPONENT TMPDIR  (output goes to the log)
	local c=$1 v=${VER[$1]} tmp=$2 src pkg var stamp
	src="$tmp/src"
	set -x
	copy_module "${MOD[$c]}@${MODVER[$c]}" "$src"
	fix_local_replaces "$c" "$src"
	generate_embeds "$v" "$src"
	pkg=$(main_pkg_dir "$c" "$src")
	var=$(version_var "$c" "$src")
	stamp=$v
	case $c in pulumi | language-nodejs) stamp=v$v ;; esac
	mkdir -p "$tmp/out"
	(cd "$src" && CGO_ENABLED=0 gocmd build -mod=mod -buildvcs=false -trimpath -ldflags "-s -w -X $var=$stamp" -o "$tmp/out/${BIN[$c]}" "$pkg")
	printf 'component=%s\nversion=%s\nmodule=%s@%s\nversion_var=%s=%s\nbuilt=%s\n' \
		"$c" "$v" "${MOD[$c]}" "${MODVER[$c]}" "$var" "$stamp" "$(date -u +%FT%TZ)" >"$tmp/out/BUILDINFO"
}

build_component() { # COMPONENT
	local c=$1 v=${VER[$1]} dest tmp logf t0 rc=0
	dest=$(comp_dir "$c")
	logf="$CACHE/logs/$c-$v.log"
	t0=$(now)
	log "building $c $v from ${MOD[$c]}@${MODVER[$c]} (this takes $(estimate "$c") minutes the first time; log: $logf)"
	tmp=$(mktemp -d "$CACHE/.build-$c-$v.XXXXXX")
	# Run in a background subshell: there `set -e` stays in force (it would not inside
	# `{ ...; } || rc=$?`), and a failing step stops the build.
	set -m # the background build gets its own process group, so cleanup can stop all of it
	build_steps "$c" "$tmp" >"$logf" 2>&1 &
	BUILD_PID=$!
	set +m
	wait "$BUILD_PID" || rc=$?
	BUILD_PID=""
	if ((rc != 0)); then
		log "build of $c failed (exit $rc); last lines of $logf:"
		tail -n 25 "$logf" >&2 || true
		rm -rf "$tmp"
		exit 1
	fi
	rm -rf "$dest.old"
	if [[ -e $dest ]]; then mv "$dest" "$dest.old"; fi # stale/broken earlier result
	mv -T "$tmp/out" "$dest"
	rm -rf "$tmp" "$dest.old"
	cached_ok "$c" || die 1 "$c: freshly built binary does not report version $v"
	log "built $c $v in $(fmt_secs $(($(now) - t0)))"
}

# ---------------------------------------------------------------- bin dir
make_bindir() {
	local c key name dir tmp
	key=""
	for c in "${COMPONENTS[@]}"; do key+="$c=${SRC[$c]}"$'\n'; done
	name="bin-pulumi${VER[pulumi]}-command${VER[command]}-random${VER[random]}-docker${VER[docker]}-$(printf '%s' "$key" | sha256sum | cut -c1-8)"
	dir="$CACHE/$name"
	if [[ ! -d $dir ]]; then
		tmp=$(mktemp -d "$CACHE/.bin.XXXXXX")
		for c in "${COMPONENTS[@]}"; do
			[[ ${SRC[$c]} == plugin-ls ]] || ln -s "${SRC[$c]}" "$tmp/${BIN[$c]}"
		done
		chmod 755 "$tmp"
		mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run made it first
	fi
	BINDIR=$dir
}

emit() { # BINDIR
	if [[ $MODE == print-env ]]; then
		# shellcheck disable=SC2016 # $PATH is for the shell that evals this
		printf 'export PATH=%q:"$PATH"\n' "$1" >&3
		printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n' >&3
		printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n' >&3
	else
		printf '%s\n' "$1" >&3
	fi
}

# ---------------------------------------------------------------- main
MODE=ensure
CACHE=""
WORK_ROOT=""
BINDIR=""
BUILD_PID=""

cleanup() {
	if [[ -n $BUILD_PID ]]; then kill -TERM -- "-$BUILD_PID" 2>/dev/null || true; fi
	if [[ -n $WORK_ROOT ]]; then rm -rf "$WORK_ROOT"; fi
}

main() {
	local c t_start missing=() failed=0
	while (($#)); do
		case $1 in
		--print-env) MODE=print-env ;;
		--check) MODE=check ;;
		--versions) MODE=versions ;;
		-h | --help) usage; exit 0 ;;
		*) usage; die 2 "unknown argument: $1" ;;
		esac
		shift
	done
	exec 3>&1 1>&2 # stdout is reserved for the result
	t_start=$(now)
	resolve_versions
	if [[ $MODE == versions ]]; then
		for c in "${COMPONENTS[@]}"; do printf '%s=%s\n' "$c" "${VER[$c]}" >&3; done
		exit 0
	fi
	log "want pulumi ${VER[pulumi]} (+ language-nodejs), command ${VER[command]}, random ${VER[random]}, docker ${VER[docker]}"

	# 1. everything already installed?
	detect_external
	local all=1
	for c in "${COMPONENTS[@]}"; do [[ -n ${SRC[$c]:-} ]] || all=0; done
	if ((all)); then
		log "using installed toolchain at $(dirname "${SRC[pulumi]}")"
		if [[ $MODE != check ]]; then emit "$(dirname "${SRC[pulumi]}")"; fi
		exit 0
	fi

	# 2. cache
	CACHE=${TOOLCHAIN_CACHE_DIR:-${HOME:?HOME is not set}/.cache/patroni-stack/toolchain}
	mkdir -p "$CACHE/logs"
	if have flock; then
		exec 9>"$CACHE/.lock"
		if ! flock -n 9; then
			log "another toolchain run holds $CACHE/.lock; waiting"
			flock 9
		fi
		# Holding the lock, nothing else is building: drop what interrupted runs left.
		rm -rf "$CACHE"/.build-* "$CACHE"/.bin.*
	fi
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	for c in "${COMPONENTS[@]}"; do
		if [[ -n ${SRC[$c]:-} ]]; then
			log "$c ${VER[$c]}: installed (${SRC[$c]})"
		elif cached_ok "$c"; then
			SRC[$c]="$(comp_dir "$c")/${BIN[$c]}"
			log "$c ${VER[$c]}: cached"
		else
			missing+=("$c")
			log "$c ${VER[$c]}: missing"
		fi
	done
	if [[ $MODE == check ]]; then
		((${#missing[@]} == 0)) || exit 1
		exit 0
	fi

	if ((${#missing[@]})); then
		find_go || die 4 "go is needed to build ${missing[*]} (looked on PATH and in /usr/local/go/bin)"
		have node || die 4 "node is needed to build ${missing[*]}"
		WORK_ROOT=$(mktemp -d)
		# Resolve every module first so a refusal is reported in seconds, not after a long build.
		log "resolving modules for: ${missing[*]}"
		for c in "${missing[@]}"; do resolve_component "$c" || failed=1; done
		if ((failed)); then
			log "cannot build the toolchain on this machine; the module source answered:"
			for c in "${missing[@]}"; do
				if [[ -n ${REFUSED[$c]:-} ]]; then printf '  %s %s:\n%s' "$c" "${VER[$c]}" "${REFUSED[$c]}" >&2; fi
			done
			log "install pulumi ${VER[pulumi]} and the plugins another way (on PATH), or rerun where these modules are available"
			exit 3
		fi
		for c in "${missing[@]}"; do
			build_component "$c"
			SRC[$c]="$(comp_dir "$c")/${BIN[$c]}"
		done
	fi

	make_bindir
	PULUMI_SKIP_UPDATE_CHECK=true "$BINDIR/pulumi" version >/dev/null </dev/null ||
		die 1 "$BINDIR/pulumi does not run"
	log "ready in $(fmt_secs $(($(now) - t_start))): $BINDIR"
	emit "$BINDIR"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
