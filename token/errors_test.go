package token

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSourceErrorTextAndChain(t *testing.T) {
	ctxErr := &SourceError{Kind: KindCanceled, Source: "cli", Reason: "waiting for the Azure CLI: context canceled", Err: context.Canceled}
	tests := []struct {
		name        string
		err         *SourceError
		text        string
		unavailable bool
		canceled    bool
	}{
		{name: "failure", err: &SourceError{Kind: KindRefused, Source: "env", Reason: "Entra ID refused"}, text: "env source: Entra ID refused"},
		{name: "unavailable", err: &SourceError{Kind: KindUnavailable, Source: "managed", Reason: "no IMDS"}, text: "managed source: no IMDS", unavailable: true},
		{name: "skipped", err: &SourceError{Kind: KindUnavailable, Source: "github", Reason: "ACTIONS_ID_TOKEN_REQUEST_URL is not set", Skipped: true},
			text: "github: ACTIONS_ID_TOKEN_REQUEST_URL is not set", unavailable: true},
		{name: "incomplete is not unavailable", err: &SourceError{Kind: KindIncomplete, Source: "env", Reason: "x"}, text: "env source: x"},
		{name: "canceled", err: ctxErr, text: "cli source: waiting for the Azure CLI: context canceled", canceled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wrapped := fmt.Errorf("myreg.azurecr.io: %w", tc.err)
			if tc.err.Error() != tc.text {
				t.Errorf("text %q, want %q", tc.err.Error(), tc.text)
			}
			if errors.Is(wrapped, ErrSourceUnavailable) != tc.unavailable {
				t.Errorf("errors.Is(ErrSourceUnavailable) = %v, want %v", !tc.unavailable, tc.unavailable)
			}
			if errors.Is(wrapped, context.Canceled) != tc.canceled {
				t.Errorf("errors.Is(context.Canceled) = %v, want %v", !tc.canceled, tc.canceled)
			}
			var se *SourceError
			if !errors.As(wrapped, &se) || se.Kind != tc.err.Kind {
				t.Errorf("errors.As gives %+v", se)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindOther: "other", KindUnavailable: "unavailable", KindIncomplete: "incomplete", KindInvalid: "invalid",
		KindRefused: "refused", KindNetwork: "network", KindCanceled: "canceled", Kind(99): "Kind(99)"}
	for k, w := range want {
		if k.String() != w {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), k.String(), w)
		}
	}
}

func TestNoSourceErrorText(t *testing.T) {
	skipped := &SourceError{Kind: KindUnavailable, Source: "github", Reason: "ACTIONS_ID_TOKEN_REQUEST_URL is not set", Skipped: true}
	tried := &SourceError{Kind: KindUnavailable, Source: "managed", Reason: "no IMDS"}
	tests := []struct {
		err  *NoSourceError
		want string
	}{
		{&NoSourceError{LoginServer: "r.azurecr.io", Reasons: []error{skipped, tried}, Sources: []string{"managed"}},
			"no Azure identity available for r.azurecr.io: github: ACTIONS_ID_TOKEN_REQUEST_URL is not set; managed source: no IMDS"},
		{&NoSourceError{LoginServer: "r.azurecr.io"}, "no Azure identity available for r.azurecr.io: no identity sources are configured"},
		{&NoSourceError{LoginServer: "r.azurecr.io", Sources: []string{"managed", "cli"}, Remembered: true, TTL: 30 * time.Second},
			"no Azure identity available for r.azurecr.io: none of the identity sources (managed, cli) was available a moment ago, and that is remembered for 30s"},
	}
	for _, tc := range tests {
		if tc.err.Error() != tc.want {
			t.Errorf("text\n%s\nwant\n%s", tc.err.Error(), tc.want)
		}
		if !errors.Is(tc.err, ErrNoSource) {
			t.Error("a NoSourceError must match ErrNoSource")
		}
		// Its reasons are unavailable sources; the whole is not one.
		if errors.Is(tc.err, ErrSourceUnavailable) {
			t.Error("a NoSourceError must not match ErrSourceUnavailable")
		}
	}
}
