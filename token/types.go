package token

import (
	"context"
	"errors"
	"time"
)

// Cloud holds what differs between Azure clouds for token acquisition.
type Cloud struct {
	// Name is a short label for logs and cache keys: "public", "china",
	// "usgov", or a custom name.
	Name string
	// AuthorityHost is the Entra authority, e.g.
	// "https://login.microsoftonline.com/". It must be https.
	AuthorityHost string
	// ARMScope is the cloud's Azure Resource Manager audience, for
	// registries that accept ARM tokens; empty where unknown.
	ARMScope string
}

// The clouds whose registry suffixes are recognised without configuration.
// These are values, not shared state: callers get a copy.
// The ARM audiences are those azcore's arm/runtime uses per cloud.
func PublicCloud() Cloud {
	return Cloud{Name: "public", AuthorityHost: "https://login.microsoftonline.com/", ARMScope: ARMScope}
}

func ChinaCloud() Cloud {
	return Cloud{Name: "china", AuthorityHost: "https://login.chinacloudapi.cn/",
		ARMScope: "https://management.core.chinacloudapi.cn/.default"}
}

func USGovCloud() Cloud {
	return Cloud{Name: "usgov", AuthorityHost: "https://login.microsoftonline.us/",
		ARMScope: "https://management.core.usgovcloudapi.net/.default"}
}

// DefaultScope is the Entra scope for ACR's own audience. It is the same in
// every cloud.
const DefaultScope = "https://containerregistry.azure.net/.default"

// ARMScope is the public cloud's Azure Resource Manager audience. The exchange accepts it
// only while the registry's azureADAuthenticationAsArmPolicy is enabled.
const ARMScope = "https://management.azure.com/.default"

// Target names the registry a refresh token is wanted for.
type Target struct {
	// LoginServer is the canonical login server host: lower case, no port,
	// no scheme, e.g. "myreg.azurecr.io".
	LoginServer string
	Cloud       Cloud
	// SkipChallenge says that the login server's form fixes both the
	// exchange endpoint (https://<LoginServer>/oauth2/exchange) and the
	// service (the login server itself), so the exchanger need not read
	// the registry's challenge first. The front end sets it from the host's
	// form; token never guesses it. It is copied into every
	// ExchangeRequest.
	SkipChallenge bool
}

// EntraToken is an access token from Microsoft Entra ID. It is never
// written to disk or to a log.
type EntraToken struct {
	Token     string
	ExpiresOn time.Time
}

// A Source is one way to obtain Entra access tokens: managed identity,
// workload identity, the Azure CLI, and so on.
//
// Constructing a Source must be cheap and touch neither network nor disk:
// the cached path builds sources only to compute cache keys.
type Source interface {
	// Name is the source's name, by which users choose it, e.g.
	// "managed".
	Name() string
	// Identity describes which identity this source authenticates as, for
	// cache keys and logs, e.g. "managed:client_id=1234" or "cli". It holds
	// no secret.
	Identity() string
	// EntraToken returns an Entra access token for scope, with the
	// authority of cloud. It returns an error wrapping ErrSourceUnavailable
	// when this source does not exist on this machine (no IMDS answers, no
	// az on PATH, no federated token file), so that the next source may be
	// tried; any other error is a real failure of an existing identity.
	EntraToken(ctx context.Context, cloud Cloud, scope string) (EntraToken, error)
}

// ErrSourceUnavailable marks errors that mean "this identity source is not
// present here": the provider moves on to the next source.
var ErrSourceUnavailable = errors.New("identity source unavailable")

// ErrNoSource is returned when no configured source is available. Its
// wrapping error lists why each one was skipped.
var ErrNoSource = errors.New("no Azure identity available")
