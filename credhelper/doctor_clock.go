package credhelper

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// clockStep compares the servers' Date headers with this machine's clock
// and adds what the tokens' times said.
func (d *doctorRun) clockStep() {
	d.timed(&d.r.Steps, StepClock, func() (string, error) {
		skew, seen := d.clock.maxSkew()
		var detail string
		switch {
		case !seen:
			detail = "no Date header seen from the registry"
		case skew > time.Second:
			detail = fmt.Sprintf("the registry's Date is %s ahead of this machine's clock", skew.Round(time.Second))
		case skew < -time.Second:
			detail = fmt.Sprintf("the registry's Date is %s behind this machine's clock", (-skew).Round(time.Second))
		default:
			detail = "the registry's Date agrees with this machine's clock (within a second)"
		}
		var bad []string
		if seen && (skew > MaxClockSkew || skew < -MaxClockSkew) {
			bad = append(bad, detail+fmt.Sprintf(" (more than %s)", MaxClockSkew))
		}
		bad = append(bad, d.tokenSkews...)
		if len(bad) > 0 {
			d.skew = &clockSkewError{facts: bad}
			return strings.Join(bad, "; "), d.skew
		}
		return detail, nil
	})
}

// clockSkewError is a clock that disagrees with the servers'.
type clockSkewError struct{ facts []string }

func (e *clockSkewError) Error() string { return strings.Join(e.facts, "; ") }

// clockWatch records the Date headers of the registry's answers.
type clockWatch struct {
	now   func() time.Time
	mu    sync.Mutex
	skews []time.Duration
}

func (c *clockWatch) client(base *http.Client) *http.Client {
	var out http.Client
	if base != nil {
		out = *base
	}
	rt := out.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	out.Transport = &dateRecorder{base: rt, w: c}
	return &out
}

// maxSkew is the server time minus the local time seen farthest from
// zero, and whether any was seen.
func (c *clockWatch) maxSkew() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var worst time.Duration
	for _, s := range c.skews {
		if s.Abs() > worst.Abs() {
			worst = s
		}
	}
	return worst, len(c.skews) > 0
}

type dateRecorder struct {
	base http.RoundTripper
	w    *clockWatch
}

func (t *dateRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		if at, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			t.w.mu.Lock()
			t.w.skews = append(t.w.skews, at.Sub(t.w.now()))
			t.w.mu.Unlock()
		}
	}
	return resp, err
}
