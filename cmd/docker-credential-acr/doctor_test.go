package main

import (
	"bytes"
	"strings"
	"testing"
)

// The doctor's runs against the simulated Azure are credhelper's tests
// (they need its transports); here, the command line: usage errors exit 2
// before any network call.
func TestDoctorCommandLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		out  string // on stdout
		err  string // on stderr
	}{
		{args: []string{"doctor", "--help"}, code: 0, out: "Usage: docker-credential-acr doctor"},
		{args: []string{"doctor", "--bogus"}, code: 2, err: "unknown option"},
		{args: []string{"doctor", "--repository"}, code: 2, err: "needs a repository name"},
		{args: []string{"doctor", "--repository", "hello"}, code: 2, err: "goes with a registry"},
		{args: []string{"doctor", "a.azurecr.io", "b.azurecr.io"}, code: 2, err: "one registry at a time"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, strings.NewReader(""), &stdout, &stderr, env(t))
		if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.err) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tt.args, code, stdout.String(), stderr.String())
		}
	}
}
