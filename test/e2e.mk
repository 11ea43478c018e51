# End-to-end tests and the demo. Included by the top-level Makefile, which
# defines `build` (bin/docker-credential-acr).
#
#   make deps-e2e   install what they need (Debian packages when root; crane from go.mod)
#   make buildkit-e2e  build buildx and BuildKit at their pinned versions, once
#   make test-e2e   simulator unit tests + end-to-end tests with real clients
#   make demo       the readable story, in under a minute once installs are done

GO          ?= go
E2E_HELPER  ?= $(CURDIR)/bin/docker-credential-acr
E2E_BIN     := $(CURDIR)/test/.bin
E2E_CRANE   := $(E2E_BIN)/crane
# BuildKit clients for the docker daemon and BuildKit tests and the demo:
# the buildx CLI plugin and standalone buildkitd + buildctl, built from
# their own modules at these pinned versions (never in our go.mod). They
# take minutes to build cold, so the binaries are kept per version under
# TOOLS_CACHE, outside the checkout: a clean clone on a machine (or a CI
# cache of ~/.cache) that built them once reuses them.
TOOLS_CACHE      ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/docker-credential-acr-tools
BUILDX_VERSION   ?= v0.38.2
BUILDKIT_VERSION ?= v0.34.2
E2E_BUILDX       := $(TOOLS_CACHE)/buildx-$(BUILDX_VERSION)/docker-buildx
E2E_BUILDKIT_DIR := $(TOOLS_CACHE)/buildkit-$(BUILDKIT_VERSION)
E2E_BUILDKITD    := $(E2E_BUILDKIT_DIR)/buildkitd
E2E_BUILDCTL     := $(E2E_BUILDKIT_DIR)/buildctl
# oras, for the token command's end-to-end test: built from its own module
# at this pinned version (go install pkg@version: never in our go.mod), and
# kept under TOOLS_CACHE like the BuildKit tools, so a clean clone reuses it.
ORAS_VERSION ?= v1.3.6
E2E_ORAS         := $(TOOLS_CACHE)/oras-$(ORAS_VERSION)/oras

.PHONY: deps-e2e test-e2e demo oras-e2e buildkit-e2e

# Built once per version; go's module cache makes it offline afterwards.
oras-e2e: $(E2E_ORAS)
$(E2E_ORAS):
	@mkdir -p $(dir $@)
	GOBIN=$(abspath $(dir $@)) nice $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

# buildx installs with go install. BuildKit cannot (its go.mod has exclude
# lines, which go install pkg@version refuses), so it is built inside its
# downloaded module, which uses that go.mod and go.sum as they are. Each is
# built into a temporary directory and moved into place whole, so an
# interrupted build leaves nothing that looks finished.
buildkit-e2e: $(E2E_BUILDX) $(E2E_BUILDCTL)
$(E2E_BUILDX):
	@mkdir -p $(dir $@)
	@rm -rf $(dir $@)tmp && mkdir -p $(dir $@)tmp
	GOBIN=$(abspath $(dir $@))/tmp CGO_ENABLED=0 nice -n 19 $(GO) install github.com/docker/buildx/cmd/buildx@$(BUILDX_VERSION)
	@mv $(dir $@)tmp/buildx $@ && rmdir $(dir $@)tmp
$(E2E_BUILDCTL):
	@mkdir -p $(E2E_BUILDKIT_DIR)/tmp
	dir=$$($(GO) mod download -json github.com/moby/buildkit@$(BUILDKIT_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
	test -n "$$dir" && cd "$$dir" && \
	CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -o $(abspath $(E2E_BUILDKIT_DIR))/tmp/ ./cmd/buildkitd ./cmd/buildctl
	@mv $(E2E_BUILDKIT_DIR)/tmp/buildkitd $(E2E_BUILDKITD) && mv $(E2E_BUILDKIT_DIR)/tmp/buildctl $(E2E_BUILDCTL) && rmdir $(E2E_BUILDKIT_DIR)/tmp

deps-e2e:
	@sh test/install-deps.sh

# A failed install does not stop the run: the tests that need what is
# missing then fail, each naming it (they never skip).
test-e2e: build
	@sh test/install-deps.sh || echo "test-e2e: some dependencies are missing (above); the end-to-end tests that need them will fail"
	@$(MAKE) --no-print-directory oras-e2e || echo "test-e2e: could not build oras $(ORAS_VERSION); TestTokenWithOras will fail"
	@$(MAKE) --no-print-directory buildkit-e2e || echo "test-e2e: could not build buildx $(BUILDX_VERSION) or BuildKit $(BUILDKIT_VERSION) (above); their steps of TestDaemonsShareOneExchange will fail"
	$(GO) test -race -count=1 ./test/azuresim/ ./test/harness/ ./test/bench/...
	E2E_HELPER=$(E2E_HELPER) E2E_CRANE=$(E2E_CRANE) E2E_ORAS=$(E2E_ORAS) \
	E2E_BUILDX=$(E2E_BUILDX) E2E_BUILDKITD=$(E2E_BUILDKITD) E2E_BUILDCTL=$(E2E_BUILDCTL) \
	$(GO) test -race -count=1 -timeout 10m -tags e2e ./test/e2e/

demo: build
	@sh test/install-deps.sh || echo "demo: some dependencies are missing (above); the steps that need them will fail"
	@test -x $(E2E_BUILDCTL) || echo "demo: building BuildKit $(BUILDKIT_VERSION) for the BuildKit step, once (minutes; kept in $(E2E_BUILDKIT_DIR))"
	@$(MAKE) --no-print-directory $(E2E_BUILDCTL) >/tmp/demo-buildkit-build.log 2>&1 || echo "demo: could not build BuildKit $(BUILDKIT_VERSION) (see /tmp/demo-buildkit-build.log); the BuildKit step will be skipped"
	@$(GO) build -o $(E2E_BIN)/azuresim ./test/cmd/azuresim
	@$(E2E_BIN)/azuresim demo -helper $(E2E_HELPER) -crane $(E2E_CRANE) -buildkitd $(E2E_BUILDKITD) -buildctl $(E2E_BUILDCTL)
