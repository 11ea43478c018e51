# Benchmarks of docker-credential-acr as docker runs it: one process per
# lookup. Included by the top-level Makefile, which defines GO, LDFLAGS,
# BINARY and `build`. Not part of `make test`: it measures, and asserts
# only correctness (no network on a cached get, one exchange for many
# concurrent gets, no Entra token outside the exchange), never a time. The
# issues' targets are printed PASS or MISS; BENCH_FLAGS=-strict makes a
# miss fail the run.
#
#   make bench          ratios measured side by side in one run, and the cold
#                       path in round trips of a simulated delay D (-delay,
#                       default 200ms): about 40 s on a 2-core VM, builds
#                       included (measured with time(1))
#   make bench-profile  what one cached get does (strace, package init
#                       times) and each source's cold path drawn as a
#                       timeline in D, with the connections it dialed
#
# BENCH_FLAGS passes options to acrbench, e.g. BENCH_FLAGS='-runs 1000',
# BENCH_FLAGS='-delay 500ms -delay-runs 9', BENCH_FLAGS=-strict.

BENCH_BIN   := $(CURDIR)/bin/bench
BENCH_FLAGS ?=
BENCH_ARGS   = -helper $(CURDIR)/$(BINARY) -nothing $(BENCH_BIN)/nothing -hello $(BENCH_BIN)/hello

.PHONY: bench bench-profile bench-tools

# The yardsticks are built exactly as `build` builds the helper: same flags,
# and the same CGO_ENABLED, read from the helper's own build information
# (a dynamically linked binary pays ld.so and libc on every start, which a
# static yardstick would not). acrbench checks the linking again.
bench-tools: build
	@mkdir -p $(BENCH_BIN)
	@cgo=$$($(GO) version -m $(BINARY) | sed -n 's/^[[:space:]]*build[[:space:]]*CGO_ENABLED=//p'); \
	set -x; \
	CGO_ENABLED=$${cgo:-1} $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BENCH_BIN)/nothing ./test/bench/nothing && \
	CGO_ENABLED=$${cgo:-1} $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BENCH_BIN)/hello ./test/bench/hello
	$(GO) build -o $(BENCH_BIN)/acrbench ./test/bench/cmd/acrbench

bench: bench-tools
	$(BENCH_BIN)/acrbench $(BENCH_ARGS) $(BENCH_FLAGS)

bench-profile: bench-tools
	@command -v strace >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get install -y -qq strace >/dev/null; } || echo "bench-profile: strace is missing (apt-get install strace)"
	$(BENCH_BIN)/acrbench -profile $(BENCH_ARGS) $(BENCH_FLAGS)
