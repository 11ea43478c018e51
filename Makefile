# docker-credential-acr. `make demo` shows it working; `make test` runs every test.
GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BINARY  := bin/docker-credential-acr

.PHONY: all build test test-unit lint install clean man
all: build

# Always rebuilt: go's own cache makes that cheap and it never serves a stale binary.
# Static (no cgo): it starts faster (no dynamic loader, see make bench), runs on
# any Linux libc, and builds the same with or without a C compiler.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/docker-credential-acr

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...

# Unit tests of the library packages and the command, with the race detector.
test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/test/')

test: lint build test-unit test-release test-e2e test-kubelet

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/docker-credential-acr
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 man/docker-credential-acr.1 $(DESTDIR)$(PREFIX)/share/man/man1/docker-credential-acr.1

# The manual page, generated from the same text as --help and the command
# table (docker-credential-acr help --man); committed, so 'man -l' works
# from a checkout.
man:
	@mkdir -p man
	$(GO) run ./cmd/docker-credential-acr help --man > man/docker-credential-acr.1

clean:
	rm -rf bin dist

# make demo, make test-e2e and their dependencies.
include test/e2e.mk
# make test-kubelet: the kubelet credential provider tests (a module of their own).
include test/kubelet.mk
# make bench: process-level benchmarks (not part of make test).
include test/bench.mk
# make release, make image, make release-check, make test-windows.
include test/release.mk
# make fuzz: every fuzz target for FUZZTIME (default 1m) each.
include test/fuzz.mk
