package identity

import (
	"context"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// envFederatedToken carries the federated token itself, for CI systems that
// hand it over as a variable (GitLab id_tokens) rather than as a file.
const envFederatedToken = "AZURE_FEDERATED_TOKEN"

// workloadSource is workload identity federation: a token issued by a
// trusted OIDC issuer (the AKS cluster, GitLab, ...) is the client assertion
// for an application or user-assigned identity. The token comes from
// AZURE_FEDERATED_TOKEN_FILE, read anew for every Entra token because
// Kubernetes rotates it, or else from AZURE_FEDERATED_TOKEN. When both are
// set the file wins: it is the one that stays fresh.
type workloadSource struct{ appSource }

func (w *workloadSource) check() *token.SourceError {
	what := "AZURE_FEDERATED_TOKEN_FILE"
	if w.s.FederatedTokenFile == "" {
		if w.o.Getenv(envFederatedToken) == "" {
			return unavailablef(Workload, "neither AZURE_FEDERATED_TOKEN_FILE nor %s is set", envFederatedToken)
		}
		what = envFederatedToken
	}
	if n := firstMissing("AZURE_CLIENT_ID", w.s.ClientID, "AZURE_TENANT_ID", w.s.TenantID); n != "" {
		return incomplete(Workload, missingText(what, n, "workload identity needs the client ID of the app or managed identity that trusts the token, and its tenant"))
	}
	return nil
}

func (w *workloadSource) EntraToken(ctx context.Context, c token.Cloud, scope string) (token.EntraToken, error) {
	h, err := checkedContext(w, w.s, c)
	if err != nil {
		return token.EntraToken{}, err
	}
	file := w.s.FederatedTokenFile
	inline := w.o.Getenv(envFederatedToken)
	w.o.Logger.Debug("authenticating with a federated token", "source", Workload, "client_id", w.s.ClientID, "tenant", w.s.TenantID, "file", file, "from_variable", file == "")
	fetch := func(context.Context) (string, error) {
		if file == "" {
			if t := strings.TrimSpace(inline); t != "" {
				return t, nil
			}
			return "", failf(token.KindInvalid, Workload, "%s holds only white space: set it to the CI job's ID token", envFederatedToken)
		}
		data, err := readSmallFile(file)
		if err != nil {
			return "", failf(token.KindInvalid, Workload, "reading the federated token in AZURE_FEDERATED_TOKEN_FILE: %v: on AKS, check that the pod has the label azure.workload.identity/use: \"true\" and its service account the client-id annotation", err)
		}
		t := strings.TrimSpace(string(data))
		if t == "" {
			return "", failf(token.KindInvalid, Workload, "the federated token file %q is empty", safetext.Printable(file))
		}
		return t, nil
	}
	return tokenWithAssertion(ctx, h, w.o, scope, fetch, inline)
}
