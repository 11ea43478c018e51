package identity

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TestCheck: each source's own check, without asking for a token.
func TestCheck(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Required metadata header not specified"}`))
	}))
	defer imds.Close()
	up := &imdsTransport{imds: imds, next: http.DefaultClient}
	down := &noNetTransport{}
	noTools := func(string) (string, error) { return "", errors.New("not found") }
	tools := func(string) (string, error) { return "/usr/bin/az", nil }
	for _, tt := range []struct {
		name, source string
		s            Settings
		o            Options
		wantKind     token.Kind // 0 with ok
		ok           bool
	}{
		{name: "env absent", source: Env, o: Options{}, wantKind: token.KindUnavailable},
		{name: "env incomplete", source: Env, o: Options{Getenv: func(k string) string {
			if k == "AZURE_CLIENT_SECRET" {
				return "s"
			}
			return ""
		}}, wantKind: token.KindIncomplete},
		{name: "cli not on PATH", source: CLI, o: Options{LookPath: noTools}, wantKind: token.KindUnavailable},
		{name: "cli on PATH", source: CLI, o: Options{LookPath: tools}, ok: true},
		{name: "managed, IMDS answers", source: Managed, o: Options{Transport: up}, ok: true},
		{name: "managed, no IMDS", source: Managed, o: Options{Transport: down}, wantKind: token.KindUnavailable},
		{name: "managed, two ids", source: Managed, s: Settings{ClientID: "a", ObjectID: "b"}, o: Options{Transport: up}, wantKind: token.KindInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(hangGuard(t), tt.source, tt.s, tt.o)
			if tt.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var se *token.SourceError
			if !errors.As(err, &se) || se.Kind != tt.wantKind || se.Source != tt.source {
				t.Fatalf("Check: %v (%#v), want kind %v", err, se, tt.wantKind)
			}
		})
	}
	if err := Check(hangGuard(t), "nosuch", Settings{}, Options{}); err == nil {
		t.Error("an unknown source passed")
	}
}
