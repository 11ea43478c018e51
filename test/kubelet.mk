# The kubelet image credential provider tests (test/kubelet, a Go module of
# its own so that the product's go.mod never depends on k8s.io/kubernetes).
# Included by the top-level Makefile, after test/e2e.mk (E2E_HELPER,
# E2E_CRANE, E2E_BIN).
#
#   make test-kubelet   the kubelet's strict decoder against the golden files,
#                       then `docker-credential-acr kubelet` driven by the
#                       kubelet's own plugin code against the simulated Azure
#
# The test binary is always rebuilt, like the helper: the Go build cache
# (~/.cache/go-build) keeps the k8s.io packages, so a warm rebuild is a few
# seconds of linking; a cold one compiles k8s.io/kubernetes (minutes, see
# test/README.md). Builds run at nice 19: the machine is shared.

KUBELET_DIR      := $(CURDIR)/test/kubelet
KUBELET_E2E_TEST := $(E2E_BIN)/kubelet-e2e.test

.PHONY: test-kubelet build-kubelet-test

build-kubelet-test:
	@mkdir -p $(E2E_BIN)
	cd $(KUBELET_DIR) && nice -n 19 $(GO) vet -tags e2e ./...
	cd $(KUBELET_DIR) && nice -n 19 $(GO) test -c -tags e2e -o $(KUBELET_E2E_TEST) ./e2e/

test-kubelet: build build-kubelet-test
	@sh test/install-deps.sh || echo "test-kubelet: some dependencies are missing (above); the end-to-end tests that need them will fail"
	cd $(KUBELET_DIR) && nice -n 19 $(GO) test -count=1 .
	cd $(KUBELET_DIR)/e2e && E2E_HELPER=$(E2E_HELPER) E2E_CRANE=$(E2E_CRANE) $(KUBELET_E2E_TEST) -test.count=1 -test.timeout=10m
