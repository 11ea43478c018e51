#!/bin/sh
# make release-check: the release is reproducible and its packages hold what
# they should.
#
#  1. `make release` and `make image` twice: the second time with an empty
#     Go build cache (GOCACHE), so every package is compiled again. Every
#     artefact (archives, .deb, .rpm, SBOMs, SHA256SUMS) and the image's
#     digest must be byte-identical.
#  2. SHA256SUMS verifies (sha256sum -c).
#  3. The archives, .deb and .rpm hold the binary and the man page where
#     they should, owned by root, and each binary is for its package's
#     architecture (ELF e_machine); the linux/amd64 binary says the version
#     and commit goreleaser gave it (run in a new network namespace).
#  4. The SBOMs are CycloneDX, with no serial number or time stamp.
# Prints what it compared and listed; exits 1 on any difference.
set -u
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/release-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
fail() {
	echo "release-check: FAIL: $*" >&2
	status=1
}
say() { echo "release-check: $*"; }
artefacts() { (cd dist && ls | grep -E '\.(tar\.gz|zip|deb|rpm|cdx\.json)$|^SHA256SUMS$'); }
image_digest() { sed -n 's/.*"digest": *"\(sha256:[0-9a-f]*\)".*/\1/p' dist/image/index.json; }

build() { # build N [env...]
	n=$1
	shift
	if command -v /usr/bin/time >/dev/null; then
		timed="/usr/bin/time -o $work/time$n -f %es_wall,_%Us_user,_%Ss_system"
	else
		timed=""
	fi
	# shellcheck disable=SC2086
	if ! $timed env "$@" make --no-print-directory image >"$work/build$n.log" 2>&1; then
		tail -40 "$work/build$n.log" >&2
		fail "build $n failed (make image, log above)"
		exit 1
	fi
	say "build $n: make image (release + image): $(tr _ ' ' <"$work/time$n" 2>/dev/null || echo "not timed: no /usr/bin/time")"
}

# What is built: a commit and its working tree. An edit or a commit while
# the check runs would make the two builds differ for a reason of no
# interest, so the check says so instead of blaming the build.
tree_state() { git rev-parse HEAD && git status --porcelain --untracked-files=no && git diff | sha256sum; }
tree_state >"$work/tree-before"

say "build 1: the usual Go build cache"
build 1
mkdir "$work/first"
for f in $(artefacts); do cp "dist/$f" "$work/first/"; done
first_image=$(image_digest)

say "build 2: an empty Go build cache ($work/gocache), so every package is compiled again"
build 2 GOCACHE="$work/gocache"
second_image=$(image_digest)

tree_state >"$work/tree-after"
if ! cmp -s "$work/tree-before" "$work/tree-after"; then
	fail "the working tree or HEAD changed while the check ran (an edit or a commit): the comparison below means nothing; run it again on a tree left alone"
fi

say "comparing SHA256SUMS of build 1 and build 2 (diff; empty means identical):"
diff "$work/first/SHA256SUMS" dist/SHA256SUMS || fail "SHA256SUMS differ between two builds of one commit"
n=0
for f in $(cd "$work/first" && ls); do
	n=$((n + 1))
	cmp "$work/first/$f" "dist/$f" || fail "$f differs between the two builds"
done
[ "$(artefacts | wc -l)" = "$n" ] || fail "the builds made different sets of files: $(artefacts | tr '\n' ' ') vs $(ls "$work/first" | tr '\n' ' ')"
say "$n files compared byte for byte:"
sed 's/^/    /' dist/SHA256SUMS
say "image: build 1 $first_image, build 2 $second_image"
[ -n "$first_image" ] && [ "$first_image" = "$second_image" ] || fail "the image's digest differs between the two builds"
(cd dist && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"
say "image: index.json of dist/image, then the platforms of its index:"
sed 's/^/    /' dist/image/index.json
echo
blob=dist/image/blobs/sha256/${second_image#sha256:}
platforms=$(tr -d ' \n' <"$blob" | grep -o '"platform":{[^}]*}' | sort | tr '\n' ' ')
echo "    $platforms"
for p in '"architecture":"amd64","os":"linux"' '"architecture":"arm64","os":"linux"'; do
	case "$platforms" in
	*"$p"*) ;;
	*) fail "the image has no $p" ;;
	esac
done

# ELF e_machine of a file: 3e00 amd64, b700 arm64.
machine() { od -An -tx1 -j18 -N2 "$1" | tr -d ' \n'; }
want_machine() {
	case "$1" in
	*amd64* | *x86_64*) echo 3e00 ;;
	*arm64* | *aarch64*) echo b700 ;;
	esac
}

for deb in dist/*.deb; do
	say "dpkg-deb -c $deb:"
	list=$(dpkg-deb -c "$deb") || {
		fail "dpkg-deb -c $deb"
		continue
	}
	echo "$list" | sed 's/^/    /'
	echo "$list" | grep -Eq '^-rwxr-xr-x root/root .* \./usr/bin/docker-credential-acr$' ||
		fail "$deb: no ./usr/bin/docker-credential-acr, mode 0755, owned by root"
	echo "$list" | grep -Eq '^-rw-r--r-- root/root .* \./usr/share/man/man1/docker-credential-acr\.1$' ||
		fail "$deb: no ./usr/share/man/man1/docker-credential-acr.1, mode 0644, owned by root"
	dpkg-deb -f "$deb" Package Version Architecture | sed 's/^/    /'
	dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/docker-credential-acr >"$work/bin"
	[ "$(machine "$work/bin")" = "$(want_machine "$deb")" ] || fail "$deb: the binary is not for its architecture (e_machine $(machine "$work/bin"))"
done

for rpm in dist/*.rpm; do
	say "rpm -qlvp $rpm:"
	if ! command -v rpm >/dev/null; then
		fail "rpm is not installed (sh test/install-deps.sh release), so $rpm cannot be listed"
		continue
	fi
	list=$(rpm -qlp "$rpm" 2>/dev/null) || {
		fail "rpm -qlp $rpm"
		continue
	}
	rpm -qlvp "$rpm" 2>/dev/null | sed 's/^/    /'
	echo "$list" | grep -qx /usr/bin/docker-credential-acr || fail "$rpm: no /usr/bin/docker-credential-acr"
	echo "$list" | grep -qx /usr/share/man/man1/docker-credential-acr.1 || fail "$rpm: no /usr/share/man/man1/docker-credential-acr.1"
	rpm -qlvp "$rpm" 2>/dev/null | grep -Eq '^-rwxr-xr-x +1 root +root .* /usr/bin/docker-credential-acr$' || fail "$rpm: the binary is not 0755 root:root"
	rpm -qp --qf '    %{NAME} %{VERSION}-%{RELEASE} %{ARCH}\n' "$rpm" 2>/dev/null
done

for tgz in dist/*.tar.gz; do
	say "tar -tvzf $tgz:"
	list=$(tar -tvzf "$tgz") || {
		fail "tar -tvzf $tgz"
		continue
	}
	echo "$list" | sed 's/^/    /'
	for f in docker-credential-acr README.md CHANGELOG.md man/docker-credential-acr.1; do
		echo "$list" | grep -Eq "^[-rwx]+ root/root .* $f\$" || fail "$tgz: no $f owned by root"
	done
	tar -xOzf "$tgz" docker-credential-acr >"$work/bin"
	[ "$(machine "$work/bin")" = "$(want_machine "$tgz")" ] || case "$tgz" in
	*darwin*) ;; # Mach-O: not an ELF header to read
	*) fail "$tgz: the binary is not for its architecture (e_machine $(machine "$work/bin"))" ;;
	esac
done
for zip in dist/*.zip; do
	say "unzip -l $zip:"
	list=$(unzip -l "$zip") || {
		fail "unzip -l $zip"
		continue
	}
	echo "$list" | sed 's/^/    /'
	for f in docker-credential-acr.exe README.md CHANGELOG.md man/docker-credential-acr.1; do
		echo "$list" | grep -Eq " $f\$" || fail "$zip: no $f"
	done
done

# The version line of the linux/amd64 binary, run where it can reach no
# network (it makes no request for `version`, but no test tool runs outside
# a namespace).
version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' dist/metadata.json)
commit=$(sed -n 's/.*"commit": *"\([^"]*\)".*/\1/p' dist/metadata.json)
tar -xOzf dist/*_linux_amd64.tar.gz docker-credential-acr >"$work/docker-credential-acr" && chmod +x "$work/docker-credential-acr"
if [ "$(id -u)" = 0 ]; then netns="unshare -n --"; else netns="unshare -r -n --"; fi
line=$($netns "$work/docker-credential-acr" version 2>&1)
say "docker-credential-acr version (linux/amd64, from the archive): $line"
case "$line" in
*"$version"*) ;;
*) fail "the binary's version line does not name $version" ;;
esac
case "$line" in
*"$(echo "$commit" | cut -c1-7)"*) ;;
*) fail "the binary's version line does not name commit $commit" ;;
esac

for sbom in dist/*.cdx.json; do
	grep -q '"bomFormat": "CycloneDX"' "$sbom" || fail "$sbom is not a CycloneDX document"
	if grep -Eq '"(serialNumber|timestamp)"' "$sbom"; then fail "$sbom has a serial number or time stamp"; fi
	grep -q '"name": "github.com/docker-credential-acr/docker-credential-acr"' "$sbom" || fail "$sbom does not name the main module"
done
say "SBOMs: $(ls dist/*.cdx.json | wc -l) CycloneDX documents, no serial number, no time stamp"

if [ "$status" = 0 ]; then
	say "OK: two builds byte-identical, packages and archives hold the binary and the man page"
fi
exit "$status"
