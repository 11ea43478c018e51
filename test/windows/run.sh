#!/bin/sh
# Runs Windows test binaries (go test -c with GOOS=windows) under Debian's
# wine, for `make test-windows`:
#
#   sh test/windows/run.sh DIR TEST.exe...
#
# DIR holds the wine prefix (made once) and one log per binary. Each binary
# runs with -test.v -test.short (short: the command's test that runs `go
# build` has no Windows go to run) inside a new network namespace (as root
# `unshare -n`, else `unshare -r -n`): no test reaches any network.
#
# Two things stand between wine 8.0 (Debian 12) and a Go test binary:
#  1. Go >= 1.24 will not start without bcryptprimitives.dll!ProcessPrng,
#     which wine 8.0 lacks ("fatal error: bcryptprimitives.dll not found").
#     We build a one-function DLL (bcryptprimitives.c) into the prefix.
#  2. Go >= 1.25's os.RemoveAll deletes with
#     NtSetInformationFile(FileDispositionInformationEx), which wine 8.0 does
#     not implement (STATUS_NOT_IMPLEMENTED, "Invalid function"), and Go falls
#     back only on the statuses real Windows gives. So every test that uses
#     t.TempDir fails at its cleanup ("TempDir RemoveAll cleanup: unlinkat
#     ...: Invalid function."), whatever its assertions said. The summary
#     lists those tests apart from the ones with other messages.
# Exits 1 if any test failed, for either reason: this is why it is not part
# of `make test`.
set -u
dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
prefix=$(cd "$dir" && pwd)/prefix

if [ "$(id -u)" = 0 ]; then
	netns="unshare -n --"
else
	netns="unshare -r -n --"
fi
wine_env="env WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml="

dll=$prefix/drive_c/windows/system32/bcryptprimitives.dll
if [ ! -f "$dll" ]; then
	echo "test-windows: making the wine prefix $prefix (once)"
	# shellcheck disable=SC2086
	$netns $wine_env wineboot -i >"$dir/wineboot.log" 2>&1 || {
		echo "test-windows: wineboot failed (see $dir/wineboot.log)" >&2
		exit 1
	}
	x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32 || {
		echo "test-windows: could not build bcryptprimitives.dll with x86_64-w64-mingw32-gcc (sh test/install-deps.sh windows)" >&2
		exit 1
	}
fi

status=0
for exe in "$@"; do
	name=$(basename "$exe" .exe)
	log=$dir/$name.log
	# shellcheck disable=SC2086
	$netns $wine_env timeout 600 wine "$exe" -test.v -test.short -test.count=1 >"$log" 2>&1
	rc=$?
	echo "test-windows: $name: exit $rc (log: $log)"
	# Per failed top-level test: cleanup-only, or its other messages.
	awk -v name="$name" '
		function top(t) { sub(/\/.*/, "", t); return t }
		/^=== (RUN|NAME|CONT|PAUSE) / { cur = top($3); next }
		/^--- FAIL: / { failed[$3] = 1; next }
		/^    --- / { next }
		/^ +[^ ]+_test\.go:[0-9]+: |^ +testing\.go:[0-9]+: / {
			if ($0 ~ /TempDir RemoveAll cleanup: .*Invalid function/) cleanup[cur] = 1
			else { other[cur] = other[cur] "\n        " substr($0, 1, 240) }
		}
		END {
			n = 0; c = 0
			for (t in failed) {
				n++
				if (!(t in other)) { c++; only = only " " t; continue }
				printf "  FAIL %s:%s\n", t, other[t]
			}
			if (c) printf "  FAIL only at wine'"'"'s t.TempDir cleanup (%d):%s\n", c, only
			printf "  %s: %d failed top-level tests, %d of them only at cleanup\n", name, n, c
		}' "$log"
	grep -E '^(ok|PASS|FAIL)$' "$log" | tail -1 | sed 's/^/  verdict: /'
	[ "$rc" = 0 ] || status=1
done
exit "$status"
