# Release artefacts, the container image, and the Windows tests under wine.
# Included by the top-level Makefile (GO, COMMIT, E2E_BIN).
#
#   make release         dist/: archives for linux, darwin (amd64, arm64) and
#                        windows/amd64, .deb and .rpm, one SBOM per binary,
#                        SHA256SUMS. goreleaser in snapshot mode: offline, no
#                        tag needed, nothing published. Cleans dist/ first.
#   make image           dist/image: the multi-arch (linux/amd64, linux/arm64)
#                        OCI image layout of the release's linux binaries.
#                        Runs `make release` first (so it never packs a stale
#                        binary). Nothing is pushed.
#   make release-check   builds the release twice, the second time from an
#                        empty Go build cache, and compares every artefact;
#                        lists the archives and packages and checks the
#                        paths; builds the image twice and compares. Slow
#                        (minutes: a cold compile of five targets), so not
#                        part of make test.
#   make test-release    cheap, part of make test: `goreleaser check` on
#                        .goreleaser.yaml and the image tool's unit tests.
#   make test-windows    the unit tests of token/filecache and of the command,
#                        as Windows binaries under wine (test/windows/run.sh
#                        says why they cannot pass there: not in make test).
#
# The tools are built from source once per version with `go install
# pkg@version` (checksums from the Go checksum database), into
# $(RELEASE_TOOLS)/NAME-VERSION/, which CI and later runs reuse; they never
# enter our go.mod. A cold build of goreleaser takes about 4 minutes.

GORELEASER_VERSION ?= v2.15.1
CYCLONEDX_VERSION  ?= v1.10.0
RELEASE_TOOLS      ?= $(HOME)/.cache/docker-credential-acr-tools
GORELEASER         := $(RELEASE_TOOLS)/goreleaser-$(GORELEASER_VERSION)/goreleaser
CYCLONEDX          := $(RELEASE_TOOLS)/cyclonedx-gomod-$(CYCLONEDX_VERSION)/cyclonedx-gomod
# The commit's time: every time stamp in dist/ is this, never the clock.
# Expanded once (:=), so that a commit made while a long `make image` runs
# cannot give its image another time than its release.
SOURCE_DATE_EPOCH  := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null))
WINDOWS_BIN        := $(E2E_BIN)/windows

# goreleaser reads the remote's URL, and where there is none (a fresh `git
# init`, a worktree of a clone without one) snapshot mode drops every git
# fact: the version and main.commit become "none". We give it a URL through
# the environment for this one command, never in the repository's config.
RELEASE_ENV := SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) PATH="$(dir $(CYCLONEDX)):$$PATH"
ifeq ($(shell git remote 2>/dev/null),)
RELEASE_ENV += GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=$(CURDIR)
endif

.PHONY: release image release-check test-release test-windows release-tools

release-tools: $(GORELEASER) $(CYCLONEDX)
$(GORELEASER):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) nice $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
$(CYCLONEDX):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) nice $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)

release: release-tools
	$(RELEASE_ENV) nice $(GORELEASER) release --snapshot --clean

image: release
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./test/cmd/ociimage -dist dist -out dist/image

release-check: release-tools
	@sh test/install-deps.sh release || echo "release-check: some dependencies are missing (above); the checks that need them will fail"
	sh test/release-check.sh

test-release: $(GORELEASER)
	$(GORELEASER) check
	$(GO) test -race -count=1 ./test/cmd/ociimage/

test-windows:
	@sh test/install-deps.sh windows || echo "test-windows: some dependencies are missing (above)"
	@mkdir -p $(WINDOWS_BIN)
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) test -c -o $(WINDOWS_BIN)/filecache.test.exe ./token/filecache
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) test -c -o $(WINDOWS_BIN)/cmd.test.exe ./cmd/docker-credential-acr
	sh test/windows/run.sh $(WINDOWS_BIN) $(WINDOWS_BIN)/filecache.test.exe $(WINDOWS_BIN)/cmd.test.exe
