package credhelper_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// TestGetEndsAtItsDeadline: an exchange that never answers ends the get
// at its deadline with the registry's structured error (the step, the URL,
// the tries) and the advice that names the setting to raise. Nothing here
// measures how long it took: the ctx guard only catches a hang.
func TestGetEndsAtItsDeadline(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"the variable", map[string]string{config.EnvTimeout: "1s"}, "raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 1s)"},
		{"the default", nil, "raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 1s, the default) or timeout: in the config file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeACR()
			defer f.server.Close()
			release := f.sim.Hang(azuresim.EndpointExchange)
			defer release()
			h := credhelper.New(credhelper.Options{
				Getenv:             func(k string) string { return tt.env[k] },
				Credential:         f.credential(azuresim.ACRAudience),
				CredentialIdentity: "test",
				HTTPClient:         f.client(),
				Config:             &config.Config{},
				Timeout:            time.Second, // the default where the variable is unset
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
			defer cancel()
			_, _, err := h.GetContext(ctx, "myreg.azurecr.io")
			if err == nil {
				t.Fatal("want an error")
			}
			if ctx.Err() != nil {
				t.Fatalf("the get ran into the test's hang guard: %v", err)
			}
			var xe *acr.Error
			if !errors.As(err, &xe) || xe.Step != "exchange" || xe.Endpoint != "https://myreg.azurecr.io/oauth2/exchange" || xe.Tries != 1 || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v: want the exchange's *acr.Error with its URL and 1 try, wrapping DeadlineExceeded", err)
			}
			for _, w := range []string{"exchange at myreg.azurecr.io: POST https://myreg.azurecr.io/oauth2/exchange got no answer",
				"the registry's exchange (https://myreg.azurecr.io/oauth2/exchange) did not answer within the 1s", tt.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestGetDeadlineCountsFromStart: the deadline is Options.Start plus the
// timeout less ExitMargin, so time spent before the get (the process's
// start) counts; a start already a whole timeout ago fails at once, naming
// the setting, and still serves nothing stale.
func TestGetDeadlineCountsFromStart(t *testing.T) {
	f := newFakeACR()
	defer f.server.Close()
	h := credhelper.New(credhelper.Options{
		Getenv:             noEnv,
		Credential:         f.credential(azuresim.ACRAudience),
		CredentialIdentity: "test",
		HTTPClient:         f.client(),
		Config:             &config.Config{},
		Start:              time.Now().Add(-credhelper.DefaultTimeout),
	})
	_, _, err := h.GetContext(context.Background(), "myreg.azurecr.io")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 10s, the default)") {
		t.Fatalf("error %v: want the deadline's, with the advice", err)
	}
	if f.exchanges() != 0 {
		t.Errorf("%d exchanges after the deadline", f.exchanges())
	}
}

// TestEmbedderDeadlineIsNotOurs: a caller's own, earlier deadline ends
// the get, but the advice does not tell the user to raise our setting.
func TestEmbedderDeadlineIsNotOurs(t *testing.T) {
	f := newFakeACR()
	defer f.server.Close()
	release := f.sim.Hang(azuresim.EndpointExchange)
	defer release()
	h := newHelper(t, f, f.credential(azuresim.ACRAudience), token.NoCache{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := h.GetContext(ctx, "myreg.azurecr.io")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), config.EnvTimeout) {
		t.Fatalf("error %v: want the deadline's, without our setting's advice", err)
	}
}

// TestKubeletEndsAtItsDeadline: the kubelet mode's request has the same
// one deadline, with the budget its command passes (30 s there; 1 s here),
// and its error names the setting.
func TestKubeletEndsAtItsDeadline(t *testing.T) {
	f := newFakeACR()
	defer f.server.Close()
	release := f.sim.Hang(azuresim.EndpointChallenge, azuresim.EndpointExchange)
	defer release()
	h := credhelper.New(credhelper.Options{
		Getenv:             noEnv,
		Credential:         f.credential(azuresim.ACRAudience),
		CredentialIdentity: "test",
		HTTPClient:         f.client(),
		Config:             &config.Config{},
		Timeout:            time.Second,
		Start:              time.Now(),
	})
	_, err := askKubelet(t, h, kubeletRequest("kubereg.azurecr.io/team/app", "", nil))
	var xe *acr.Error
	if !errors.As(err, &xe) || xe.Endpoint == "" || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "raise DOCKER_CREDENTIAL_ACR_TIMEOUT (now 1s, the default)") {
		t.Fatalf("error %v: want the registry's deadline error, naming the endpoint and the setting", err)
	}
}
