package azuresim

import (
	"fmt"
	"net/http"
	"time"
)

// Faults are failures a test plants in front of the simulator's handler,
// to see how a client explains them: what an operator sees when a
// registry's network rules, role assignments or a clock are wrong
// (FIELD-NOTES §9).
type Faults struct {
	// FirewallIP, when set, makes every registry host answer 403 DENIED
	// "client with IP '<FirewallIP>' is not allowed access", as ACR's
	// network rules do.
	FirewallIP string
	// NoActions makes every registry's token endpoint (/oauth2/token)
	// grant no actions, as for an identity without a role on the
	// registry: the exchange succeeds, the access token's access claim is
	// empty.
	NoActions bool
	// DateSkew moves the Date header of every answer by this much.
	DateSkew time.Duration
}

// FaultyHandler is Handler with the faults f planted.
func (s *Sim) FaultyHandler(f Faults) http.Handler {
	next := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.DateSkew != 0 {
			w.Header().Set("Date", time.Now().Add(f.DateSkew).UTC().Format(http.TimeFormat))
		}
		isRegistry := s.registry(hostOnly(r.Host)) != nil
		if isRegistry && f.FirewallIP != "" {
			acrError(w, http.StatusForbidden, "DENIED", fmt.Sprintf("client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", f.FirewallIP))
			return
		}
		if isRegistry && f.NoActions && r.URL.Path == "/oauth2/token" {
			if r.Method == http.MethodPost {
				if err := r.ParseForm(); err == nil {
					r.PostForm.Del("scope")
					r.Form.Del("scope")
				}
			} else {
				q := r.URL.Query()
				q.Del("scope")
				r.URL.RawQuery = q.Encode()
			}
		}
		next.ServeHTTP(w, r)
	})
}
