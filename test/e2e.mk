# End-to-end tests and the demo. Included by the top-level Makefile, which
# defines `build` (bin/docker-credential-acr).
#
#   make deps-e2e   install what they need (Debian packages when root; crane from go.mod)
#   make test-e2e   simulator unit tests + end-to-end tests with real clients
#   make demo       the readable story, in under a minute once installs are done

GO          ?= go
E2E_HELPER  ?= $(CURDIR)/bin/docker-credential-acr
E2E_BIN     := $(CURDIR)/test/.bin
E2E_CRANE   := $(E2E_BIN)/crane
# oras, for the token command's end-to-end test: built from its own module
# at this pinned version (go install pkg@version: never in our go.mod).
ORAS_VERSION ?= v1.3.6
E2E_ORAS    := $(E2E_BIN)/oras-$(ORAS_VERSION)/oras

.PHONY: deps-e2e test-e2e demo oras-e2e

# Built once per version; go's module cache makes it offline afterwards.
oras-e2e: $(E2E_ORAS)
$(E2E_ORAS):
	@mkdir -p $(dir $@)
	GOBIN=$(abspath $(dir $@)) nice $(GO) install oras.land/oras/cmd/oras@$(ORAS_VERSION)

deps-e2e:
	@sh test/install-deps.sh

# A failed install does not stop the run: the tests that need what is
# missing then fail, each naming it (they never skip).
test-e2e: build
	@sh test/install-deps.sh || echo "test-e2e: some dependencies are missing (above); the end-to-end tests that need them will fail"
	@$(MAKE) --no-print-directory oras-e2e || echo "test-e2e: could not build oras $(ORAS_VERSION); TestTokenWithOras will fail"
	$(GO) test -race -count=1 ./test/azuresim/ ./test/harness/ ./test/bench/...
	E2E_HELPER=$(E2E_HELPER) E2E_CRANE=$(E2E_CRANE) E2E_ORAS=$(E2E_ORAS) $(GO) test -race -count=1 -timeout 10m -tags e2e ./test/e2e/

demo: build
	@sh test/install-deps.sh || echo "demo: some dependencies are missing (above); the steps that need them will fail"
	@$(GO) build -o $(E2E_BIN)/azuresim ./test/cmd/azuresim
	@$(E2E_BIN)/azuresim demo -helper $(E2E_HELPER) -crane $(E2E_CRANE)
