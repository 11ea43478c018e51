# make fuzz: every fuzz target for FUZZTIME each, one after another (not
# part of make test: there, go test runs each target's seeds, f.Add and
# testdata/fuzz/<Target>/, as ordinary tests).
#
#   make fuzz                       # 1 minute per target
#   make fuzz FUZZTIME=5m           # the pre-release run (issue 12)
#   make fuzz FUZZ='FuzzDecode'     # only the targets whose name matches
#   make fuzz FUZZFLAGS=-parallel=1 # one fuzzing worker, on a shared machine
#
# New interesting inputs go to Go's cache ($(go env GOCACHE)/fuzz), not to
# the tree; a crasher is written to the package's testdata/fuzz/<Target>/,
# which is the file to commit with the fix. The run goes on to the next
# target after a failure and fails at the end, naming every target that
# failed.

FUZZTIME         ?= 1m
# Go minimises every new interesting input for up to 60 s by default, during
# which the target makes no progress; a short bound keeps the time on
# fuzzing.
FUZZMINIMIZETIME ?= 5s
FUZZFLAGS        ?=
FUZZ             ?= .

# package:target, one per line: the one list of fuzz targets.
FUZZ_TARGETS := \
	./credhelper:FuzzProtocol \
	./credhelper/loginserver:FuzzParse \
	./token/acr:FuzzParseChallenges \
	./token/internal/jwtclaims:FuzzUnverified \
	./token/acr:FuzzRefreshTokenTimes \
	./token/filecache:FuzzDecode \
	./credhelper/config:FuzzParse \
	./credhelper:FuzzKubeletRequest \
	./credhelper:FuzzConfigureMerge

.PHONY: fuzz fuzz-check
fuzz: fuzz-check
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "$$name" | grep -Eq -- '$(FUZZ)' || continue; \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) $$pkg \
			|| failed="$$failed $$pkg:$$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

# Every func FuzzXxx in the tree is in FUZZ_TARGETS, and every entry exists.
fuzz-check:
	@found=$$(grep -rl --include='*_test.go' '^func Fuzz' cmd credhelper token test | sort | while read f; do \
		for n in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do echo "./$$(dirname $$f):$$n"; done; done | sort); \
	listed=$$(for t in $(FUZZ_TARGETS); do echo $$t; done | sort); \
	if [ "$$found" != "$$listed" ]; then \
		echo "test/fuzz.mk: FUZZ_TARGETS must list exactly the fuzz targets in the tree."; \
		echo "listed:"; echo "$$listed"; echo "found:"; echo "$$found"; exit 1; fi
