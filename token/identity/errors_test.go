package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/docker-credential-acr/docker-credential-acr/test/leak"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// failedAuth is an azidentity failure as an endpoint's answer makes it.
func failedAuth(status int, body string) error {
	return &azidentity.AuthenticationFailedError{RawResponse: &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}}
}

// TestEntraFailureRedactsBeforeClipping places a secret across the
// points where an Entra answer is shortened (600 bytes for the whole
// description, 200 for a body that is not JSON), at every offset near them.
// The review's repro: padding, then "secret=<client secret>", printed
// 21 of the secret's 40 characters.
func TestEntraFailureRedactsBeforeClipping(t *testing.T) {
	const secret = "Abc8Q~kLmNoPqRsTuVwXyZ0123456789.abcdefg"
	h := hintContext{source: Env, clientID: "app", tenantID: testTenant, authority: "https://login.example/"}
	runClipCases(t, secret, []clipCase{
		{name: "JSON description", lo: 480, hi: 600,
			body: func(pad string) string {
				return fmt.Sprintf(`{"error":"invalid_client","error_description":"AADSTS7000215: %ssecret=%s was wrong"}`, pad, secret)
			}},
		{name: "body that is not JSON", lo: 120, hi: 200,
			body: func(pad string) string { return "<html>" + pad + "secret=" + secret + " was wrong</html>" }},
	}, func(t *testing.T, body string) string {
		err := entraFailure(context.Background(), h, failedAuth(401, body), secret)
		assertMentions(t, err, "HTTP 401")
		return err.Error()
	})
}

// TestErrorSnippetRedactsBeforeClipping does the same for the CI token
// services' error messages (300 bytes from JSON, 200 from text).
func TestErrorSnippetRedactsBeforeClipping(t *testing.T) {
	const bearer = "ghs_0123456789abcdefghijABCDEFGHIJklmnopqrst"
	runClipCases(t, bearer, []clipCase{
		{name: "JSON message", lo: 240, hi: 300,
			body: func(pad string) string { return fmt.Sprintf(`{"message":"%sBearer %s refused"}`, pad, bearer) }},
		{name: "text", lo: 140, hi: 200,
			body: func(pad string) string { return pad + "Bearer " + bearer + " refused" }},
	}, func(_ *testing.T, body string) string { return errorSnippet([]byte(body), bearer) })
}

// clipCase is a body with a secret after pad, tried with every padding
// length from lo to hi.
type clipCase struct {
	name   string
	body   func(pad string) string
	lo, hi int
}

// runClipCases passes each case's bodies to shown, which returns what a
// user reads of one: leak.AssertNoFragmentAtAnyCut checks it.
func runClipCases(t *testing.T, secret string, tests []clipCase, shown func(t *testing.T, body string) string) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leak.AssertNoFragmentAtAnyCut(t, secret, tc.lo, tc.hi,
				func(pad string) string { return shown(t, tc.body(pad)) },
				func(s string) bool { return strings.Contains(s, "…") })
		})
	}
}

// TestErrorsForEmbedders: a program that embeds the sources gets the cause
// in the API's terms, with no front end's variables, and reads the kind
// and the facts with errors.As.
func TestErrorsForEmbedders(t *testing.T) {
	env := fakeEnv{envPipelinesOIDCURI: "https://dev.azure.com/org/", envPipelinesAccessToken: "job-token", envPipelinesConnectionID: "conn"}
	srcs, err := New([]string{Pipelines, GitHub}, Settings{ClientID: "app", TenantID: testTenant},
		testOptions(fakeEnv{envGitHubTokenURL: "http://runner/idtoken", envGitHubTokenToken: "job-token"}, nil, &logBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	pipelines, _ := New([]string{Pipelines}, Settings{}, testOptions(env, nil, &logBuffer{}))
	tests := []struct {
		name   string
		src    token.Source
		kind   token.Kind
		remedy token.Remedy
	}{
		{name: "pipelines without its service principal", src: pipelines[0], kind: token.KindIncomplete, remedy: token.RemedyClientTenant},
		{name: "pipelines absent", src: srcs[0], kind: token.KindUnavailable},
		{name: "github with a plain http token URL", src: srcs[1], kind: token.KindInvalid, remedy: token.RemedyOtherSource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.src.EntraToken(hangGuard(t), token.PublicCloud(), token.DefaultScope)
			t.Logf("error: %v", err)
			var se *token.SourceError
			if !errors.As(err, &se) || se.Kind != tc.kind || se.Remedy != tc.remedy || se.Source != tc.src.Name() {
				t.Fatalf("SourceError %+v, want source %s, kind %v, remedy %v", se, tc.src.Name(), tc.kind, tc.remedy)
			}
			if errors.Is(err, token.ErrSourceUnavailable) != (tc.kind == token.KindUnavailable) {
				t.Errorf("errors.Is(ErrSourceUnavailable) disagrees with kind %v", tc.kind)
			}
			assertNoFrontEnd(t, err)
		})
	}
}
