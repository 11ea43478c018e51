#!/bin/sh
# Installs what `make demo` and `make test-e2e` need and are missing:
#   Debian packages  docker-registry (distribution 2.8), skopeo, podman,
#                    buildah, uidmap, iproute2, and docker.io: the docker CLI
#                    and the daemon (dockerd, with containerd and runc; the
#                    tests start their own dockerd inside their namespace)
#   go tool          crane, built from the version pinned in go.mod into
#                    test/.bin/crane
# With an argument, another set instead (nothing else is built):
#   release   rpm (rpm -qlp lists the .rpm packages), unzip, ca-certificates
#             (the image's CA bundle): for `make release-check`, `make image`
#   windows   wine64, and mingw-w64's C compiler for the one-function DLL
#             that Go's runtime needs and wine 8 lacks: for `make test-windows`
# Packages are installed with apt-get only when missing, and only as root;
# `apt-get update` runs once, first, and only if something is missing.
# apt would start the docker and containerd services it installs: a
# policy-rc.d that exits 101 stops that for the install (the machine's own,
# if any, is put back after), so no daemon runs outside the tests.
# Exits non-zero, naming what it could not install.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
GO=${GO:-go}
mode=${1:-e2e}

# command:package pairs (a path is checked as a file). docker-registry is
# also accepted as `registry`.
case "$mode" in
e2e) wanted="docker-registry:docker-registry skopeo:skopeo podman:podman buildah:buildah newuidmap:uidmap ip:iproute2 docker:docker.io dockerd:docker.io runc:runc" ;;
release) wanted="rpm:rpm unzip:unzip dpkg-deb:dpkg /etc/ssl/certs/ca-certificates.crt:ca-certificates" ;;
windows) wanted="wine64:wine64 x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64-win32" ;;
*)
	echo "install-deps: unknown set $mode (want e2e, release or windows)" >&2
	exit 2
	;;
esac

have() {
	case "$1" in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 || { [ "$1" = wine64 ] && [ -x /usr/lib/wine/wine64 ]; } ;;
	esac
}

# no_service_starts puts a policy-rc.d in place that refuses every service
# start (exit 101, see invoke-rc.d(8)); restore_service_starts puts back
# what was there before, or removes it.
policy=/usr/sbin/policy-rc.d
policy_saved=""
policy_ours=""
no_service_starts() {
	policy_ours=1
	trap restore_service_starts EXIT
	trap 'restore_service_starts; exit 1' INT TERM
	if [ -e "$policy" ]; then
		policy_saved=$(mktemp /tmp/deps-e2e-policy-rc.d.XXXXXX) && cp -p "$policy" "$policy_saved"
	fi
	printf '#!/bin/sh\n# deps-e2e: no service starts while it installs packages\nexit 101\n' >"$policy" && chmod 755 "$policy"
}
restore_service_starts() {
	[ -n "$policy_ours" ] || return 0
	policy_ours=""
	if [ -n "$policy_saved" ]; then
		cp -p "$policy_saved" "$policy" && rm -f "$policy_saved"
	else
		rm -f "$policy"
	fi
}

missing_pkgs=""
missing_cmds=""
for pair in $wanted; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if have "$cmd"; then continue; fi
	if [ "$cmd" = docker-registry ] && have registry; then continue; fi
	case " $missing_pkgs " in *" $pkg "*) missing_cmds="$missing_cmds $cmd"; continue ;; esac
	missing_pkgs="$missing_pkgs $pkg"
	missing_cmds="$missing_cmds $cmd"
done

status=0
if [ -n "$missing_pkgs" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps-$mode: missing:$missing_cmds" >&2
		echo "deps-$mode: not root, so not installing them; run as root: apt-get update && apt-get install -y$missing_pkgs" >&2
		status=1
	elif ! have apt-get; then
		echo "deps-$mode: missing:$missing_cmds, and there is no apt-get to install Debian packages$missing_pkgs" >&2
		status=1
	else
		echo "deps-$mode: installing$missing_pkgs (apt-get; this happens once)"
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get update -qq >/tmp/deps-$mode-apt.log 2>&1; then
			echo "deps-$mode: apt-get update failed (see /tmp/deps-$mode-apt.log); trying the install anyway" >&2
		fi
		# shellcheck disable=SC2086
		if ! apt-get install -y -qq $missing_pkgs >>/tmp/deps-$mode-apt.log 2>&1; then
			# One by one, to say exactly which could not be had.
			for pkg in $missing_pkgs; do
				apt-get install -y -qq "$pkg" >>/tmp/deps-$mode-apt.log 2>&1 ||
					echo "deps-$mode: COULD NOT INSTALL $pkg (apt-get install $pkg failed; see /tmp/deps-$mode-apt.log)" >&2
			done
		fi
		restore_service_starts
		for pair in $wanted; do
			cmd=${pair%%:*}
			pkg=${pair#*:}
			if have "$cmd" || { [ "$cmd" = docker-registry ] && have registry; }; then continue; fi
			echo "deps-$mode: still missing after install: $cmd (package $pkg)" >&2
			status=1
		done
	fi
fi

if [ "$mode" != e2e ]; then
	[ "$status" = 0 ] && echo "deps-$mode: all dependencies present"
	exit "$status"
fi

# crane: the go tool pinned in go.mod, built once (go's cache makes a
# rebuild cheap, and this never serves a version other than go.mod's).
mkdir -p "$here/.bin"
if ! (cd "$root" && $GO build -o "$here/.bin/crane" github.com/google/go-containerregistry/cmd/crane); then
	echo "deps-$mode: COULD NOT BUILD crane from go.mod (go build github.com/google/go-containerregistry/cmd/crane)" >&2
	status=1
fi

if [ "$status" = 0 ]; then
	echo "deps-$mode: all end-to-end dependencies present"
fi
exit "$status"
