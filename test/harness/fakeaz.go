package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

const envFakeAz = "AZURESIM_FAKE_AZ"

// MaybeRunFakeAz makes this program act as the Azure CLI when the fake
// `az` script runs it: it answers `az account get-access-token` with a
// token of the simulator's CLI user, and exits. Call it first in main or
// TestMain. Otherwise it returns at once.
func MaybeRunFakeAz() {
	base := os.Getenv(envFakeAz)
	if base == "" {
		return
	}
	os.Exit(fakeAz(base, os.Args[1:], os.Stdout, os.Stderr))
}

func fakeAz(base string, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "account" || args[1] != "get-access-token" {
		fmt.Fprintf(stderr, "fake az: only `az account get-access-token` is simulated, not %q\n", args)
		return 2
	}
	q := url.Values{}
	for i := 2; i < len(args); i++ {
		flag := args[i]
		val := ""
		if i+1 < len(args) {
			val = args[i+1]
		}
		switch flag {
		case "--resource", "--scope", "--tenant", "-t":
			name := map[string]string{"--resource": "resource", "--scope": "scope", "--tenant": "tenant", "-t": "tenant"}[flag]
			q.Set(name, val)
			i++
		case "-o", "--output":
			if val != "json" {
				fmt.Fprintf(stderr, "fake az: only -o json is simulated\n")
				return 2
			}
			i++
		default:
			fmt.Fprintf(stderr, "fake az: unrecognized argument %s\n", flag)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/az?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "fake az:", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "fake az: the simulated Azure did not answer:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "%s", body)
		return 1
	}
	_, _ = stdout.Write(body)
	return 0
}
