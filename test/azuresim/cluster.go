package azuresim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A Cluster is a simulated Kubernetes cluster's service-account token
// issuer (its OIDC issuer, as the API server signs projected and
// TokenRequest tokens). It lives apart from the Sim: a process that only
// mints tokens (a kubelet test's getServiceAccountToken) can load it from
// its key, while the Sim that judges assertions trusts it by TrustCluster,
// as Entra trusts a cluster's issuer through the federated credentials
// that name it.
type Cluster struct {
	issuer string
	key    *signingKey
}

// NewCluster makes a cluster issuer with a fresh RS256 key, e.g. for
// issuer "https://oidc.cluster.test".
func NewCluster(issuer string) (*Cluster, error) {
	if issuer == "" {
		return nil, errors.New("azuresim: a cluster needs an issuer URL")
	}
	k, err := newSigningKey("azuresim cluster " + issuer)
	if err != nil {
		return nil, err
	}
	return &Cluster{issuer: issuer, key: k}, nil
}

// LoadCluster is the cluster whose KeyPEM is keyPEM.
func LoadCluster(issuer string, keyPEM []byte) (*Cluster, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("azuresim: no PEM block in the cluster key")
	}
	key, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("azuresim: cluster key: %w", err)
	}
	kid, err := libtrustKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Cluster{issuer: issuer, key: &signingKey{key: key, kid: kid}}, nil
}

// KeyPEM is the cluster's signing key (PKCS #1 PEM), for LoadCluster.
func (c *Cluster) KeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(c.key.key)})
}

// Issuer is the cluster's OIDC issuer URL, the iss of its tokens.
func (c *Cluster) Issuer() string { return c.issuer }

// ServiceAccountSubject is the sub of a service account's tokens.
func ServiceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// BoundPod names the pod a token is bound to (a TokenRequest's
// boundObjectRef); empty fields are left out of the token.
type BoundPod struct {
	Name, UID string
}

// ServiceAccountToken mints what the API server answers a TokenRequest
// with: an RS256 JWT with iss, sub = system:serviceaccount:NS:NAME, the
// audiences asked for, iat, nbf, exp, and the kubernetes.io claims naming
// the service account (and the pod, when bound to one).
func (c *Cluster) ServiceAccountToken(namespace, name, saUID string, audiences []string, pod BoundPod, lifetime time.Duration) (string, error) {
	if len(audiences) == 0 {
		return "", errors.New("azuresim: a service account token needs an audience")
	}
	now := time.Now()
	k8s := map[string]any{
		"namespace":      namespace,
		"serviceaccount": map[string]any{"name": name, "uid": saUID},
	}
	if pod.Name != "" {
		k8s["pod"] = map[string]any{"name": pod.Name, "uid": pod.UID}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":           c.issuer,
		"sub":           ServiceAccountSubject(namespace, name),
		"aud":           slices.Clone(audiences),
		"iat":           now.Unix(),
		"nbf":           now.Unix(),
		"exp":           now.Add(lifetime).Unix(),
		"jti":           newGUID(),
		"kubernetes.io": k8s,
	})
	t.Header["kid"] = c.key.kid
	return t.SignedString(c.key.key)
}

// TrustCluster makes the simulated Entra accept federated assertions
// signed by the cluster's key under its issuer (the key Entra would find
// through the issuer's discovery document). Whether an app trusts a given
// subject and audience is still up to its federated credentials.
func (s *Sim) TrustCluster(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clusters == nil {
		s.clusters = map[string]*rsa.PublicKey{}
	}
	s.clusters[c.issuer] = &c.key.key.PublicKey
}

// federatedAssertion checks a federated client assertion's signature and
// expiry, by the key of the issuer it names (a trusted cluster's, or the
// simulated OIDC, GitHub and Pipelines issuers' shared key), and returns
// its issuer, subject and audiences. The audiences are judged against the
// app's federated credentials (federatedMatch), as Entra does.
func (s *Sim) federatedAssertion(assertion string) (iss, sub string, aud []string, err error) {
	unverified := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, unverified); err != nil {
		return "", "", nil, err
	}
	iss, _ = unverified["iss"].(string)
	s.mu.Lock()
	clusterKey := s.clusters[iss]
	s.mu.Unlock()
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		if clusterKey != nil {
			return clusterKey, nil
		}
		switch iss {
		case s.opts.OIDCIssuer, GitHubIssuer, PipelinesIssuer:
		default:
			return nil, fmt.Errorf("issuer %q is not one azuresim simulates or trusts", iss)
		}
		if t.Header["kid"] != s.oidcKey.kid {
			return nil, errors.New("assertion not signed by a trusted issuer key")
		}
		return &s.oidcKey.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return "", "", nil, err
	}
	sub, _ = claims["sub"].(string)
	a, err := claims.GetAudience()
	if err != nil {
		return "", "", nil, err
	}
	return iss, sub, a, nil
}

// federatedMatch reports whether one of the app's federated credentials
// names exactly this issuer and subject and one of the assertion's
// audiences (a credential without Audiences takes Entra's default,
// api://AzureADTokenExchange).
func federatedMatch(app App, iss, sub string, aud []string) bool {
	for _, fc := range app.Federated {
		want := fc.Audiences
		if len(want) == 0 {
			want = []string{FederatedAudience}
		}
		if fc.Issuer != iss || fc.Subject != sub {
			continue
		}
		for _, a := range aud {
			if slices.Contains(want, a) {
				return true
			}
		}
	}
	return false
}

// Assertion records one federated client assertion the simulated Entra
// judged at its token endpoint: for which app and tenant, whose token it
// was, and the refusal (empty when accepted).
type Assertion struct {
	Time      time.Time `json:"time"`
	ClientID  string    `json:"client_id"`
	Tenant    string    `json:"tenant"`
	Issuer    string    `json:"issuer,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Audiences []string  `json:"audiences,omitempty"`
	Error     string    `json:"error,omitempty"` // AADSTS70021, AADSTS700211
}

// Assertions returns the federated assertions judged since the last Reset.
func (s *Sim) Assertions() []Assertion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.assertions)
}

func (s *Sim) recordAssertion(a Assertion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.Time = time.Now()
	s.assertions = append(s.assertions, a)
}

// noFederatedMatch is Entra's AADSTS70021 description for an assertion no
// federated credential of the app matches.
func noFederatedMatch(iss, sub string, aud []string) string {
	return fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.", iss, sub, strings.Join(aud, ","))
}
