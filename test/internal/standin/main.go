// Command standin is a deliberately small stand-in for docker-credential-acr
// (managed identity only), used to test the end-to-end harness itself while
// the product is not built: E2E_HELPER=path/to/standin. It is not the
// product and is never shipped.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

var loginServer = regexp.MustCompile(`^[a-z0-9]{5,50}\.azurecr\.io$`)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "get" {
		fmt.Println("standin: only get is supported")
		os.Exit(1)
	}
	in, _ := bufio.NewReader(io.LimitReader(os.Stdin, 4096)).ReadString('\n')
	host := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(in), "https://"), "/"))
	if !loginServer.MatchString(host) {
		fmt.Println("credentials not found in native keychain")
		os.Exit(1)
	}
	rt, err := get(host)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"ServerURL": strings.TrimSpace(in), "Username": "<token>", "Secret": rt})
}

func get(host string) (string, error) {
	dir := os.Getenv("DOCKER_CREDENTIAL_ACR_CACHE_DIR")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, host+".standin")
	lock := flock.New(file + ".lock")
	if err := lock.Lock(); err != nil {
		return "", err
	}
	defer lock.Unlock()
	if b, err := os.ReadFile(file); err == nil {
		return string(b), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://containerregistry.azure.net", nil)
	req.Header.Set("Metadata", "true")
	var imds struct {
		AccessToken string `json:"access_token"`
	}
	if err := do(req, &imds); err != nil {
		return "", fmt.Errorf("imds: %w", err)
	}
	resp, err := http.Get("https://" + host + "/v2/")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	form := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {imds.AccessToken}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "https://"+host+"/oauth2/exchange", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var ex struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := do(req, &ex); err != nil {
		return "", fmt.Errorf("exchange: %w", err)
	}
	_ = os.WriteFile(file, []byte(ex.RefreshToken), 0o600)
	return ex.RefreshToken, nil
}

func do(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
