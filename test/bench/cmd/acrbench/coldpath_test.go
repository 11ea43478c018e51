//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/test/azuresim"
	"github.com/docker-credential-acr/docker-credential-acr/test/bench"
)

// at builds a record from offsets in D after t0.
func at(t0 time.Time, d time.Duration, from, to float64, endpoint, host string) azuresim.Request {
	return azuresim.Request{
		Start: t0.Add(time.Duration(from * float64(d))), Time: t0.Add(time.Duration(to * float64(d))),
		Endpoint: endpoint, Host: host, Method: "GET",
	}
}

func TestRequestOrderMarksOverlaps(t *testing.T) {
	const d = 200 * time.Millisecond
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		reqs []azuresim.Request
		want string
	}{
		{"none", nil, "no request"},
		{"one after the other", []azuresim.Request{
			at(t0, d, 0, 1, azuresim.EndpointIMDSProbe, azuresim.IMDSHost),
			at(t0, d, 1.02, 2, azuresim.EndpointIMDS, azuresim.IMDSHost),
		}, "imds.probe → imds"},
		{"a handshake while the token is fetched", []azuresim.Request{
			at(t0, d, 0, 1, azuresim.EndpointIMDS, azuresim.IMDSHost),
			at(t0, d, 0.01, 1, azuresim.EndpointTLSHello, "myreg.azurecr.io"),
			at(t0, d, 1.01, 2, azuresim.EndpointExchange, "myreg.azurecr.io"),
		}, "imds ∥ tls(myreg.azurecr.io) → acr.exchange"},
		{"overlap with an earlier, longer one", []azuresim.Request{
			at(t0, d, 0, 3, "a", "h"),
			at(t0, d, 0.5, 1, "b", "h"),
			at(t0, d, 1.5, 2, "c", "h"),
		}, "a ∥ b ∥ c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestOrder(tt.reqs, d); got != tt.want {
				t.Errorf("requestOrder = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRepeated(t *testing.T) {
	t0 := time.Unix(1000, 0)
	reqs := []azuresim.Request{
		at(t0, time.Second, 0, 1, azuresim.EndpointTLSHello, "myreg.azurecr.io"),
		at(t0, time.Second, 1, 2, azuresim.EndpointChallenge, "myreg.azurecr.io"),
		at(t0, time.Second, 2, 3, azuresim.EndpointTLSHello, "myreg.azurecr.io"),
		at(t0, time.Second, 3, 4, azuresim.EndpointExchange, "myreg.azurecr.io"),
	}
	if got, want := repeated(reqs), "tls.hello myreg.azurecr.io ×2"; got != want {
		t.Errorf("repeated = %q, want %q", got, want)
	}
	if got := repeated(reqs[1:3]); got != "" {
		t.Errorf("repeated of distinct requests = %q, want empty", got)
	}
}

// The drawn timeline puts each bar where its offsets say, in columns of
// timelineCols per D, and ends with the process's own span.
func TestRenderTimeline(t *testing.T) {
	const d = 100 * time.Millisecond
	t0 := time.Unix(1000, 0)
	cr := coldRun{
		sample: bench.Sample{Start: t0, Wall: 2 * d},
		reqs: []azuresim.Request{
			at(t0, d, 0, 1, azuresim.EndpointIMDS, azuresim.IMDSHost),
			at(t0, d, 1, 2, azuresim.EndpointExchange, "myreg.azurecr.io"),
		},
	}
	lines := strings.Split(strings.TrimRight(renderTimeline(cr, d), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want scale, 2 requests, the process:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// The bar follows the offsets (6 + 13 + 2), the label and 2 spaces.
	bar := func(line string) string { return string([]rune(line)[6+13+2+labelWidth+2:]) }
	want := []string{
		strings.Repeat("=", timelineCols) + "." + strings.Repeat(" ", timelineCols-1) + ".",
		"." + strings.Repeat(" ", timelineCols-1) + strings.Repeat("=", timelineCols) + ".",
		strings.Repeat("-", 2*timelineCols) + ".",
	}
	for i, w := range want {
		if got := bar(lines[i+1]); got != w {
			t.Errorf("line %d bar %q, want %q\n%s", i+1, got, w, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(lines[1], " 0.00 –  1.00  imds GET 169.254.169.254") {
		t.Errorf("first request line %q lacks its offsets and label", lines[1])
	}
	if !strings.HasSuffix(strings.TrimRight(lines[0], " "), "2") {
		t.Errorf("scale %q does not reach 2 D", lines[0])
	}
}

func TestParseConnects(t *testing.T) {
	text := `12 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("169.254.169.254")}, 16) = -1 EINPROGRESS (Operation now in progress)
12 connect(5, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
13 connect(6, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("169.254.169.254")}, 16 <unfinished ...>
13 connect(7, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
13 connect(8, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = -1 ENOENT (No such file or directory)
`
	order, n := parseConnects(text)
	want := []string{"169.254.169.254:80", "127.0.0.1:443", "[::1]:443"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", order, want)
	}
	if n["169.254.169.254:80"] != 2 || n["127.0.0.1:443"] != 1 || n["[::1]:443"] != 1 {
		t.Errorf("counts %v", n)
	}
}
