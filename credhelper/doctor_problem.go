package credhelper

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/config"
	"github.com/docker-credential-acr/docker-credential-acr/token"
	"github.com/docker-credential-acr/docker-credential-acr/token/acr"
)

// This file turns the first failure of a doctor run into a problem: a
// code, the evidence and the fix. Like advise, it reads the structured
// errors of the token packages (kinds, codes, remedies and the facts they
// carry), never their text.

// conclude sets the report's problem. A clock that disagrees with the
// servers' is named even when a later-looking failure came first: a
// skewed clock is what makes tokens look expired.
func (d *doctorRun) conclude() {
	if d.r.Registry == nil && d.r.Chosen == nil && d.failErr == nil {
		d.r.OK = false
		d.r.Problem = &DoctorProblem{Code: ProblemNoIdentity,
			Summary: "no identity source is available on this machine: " + unavailableSummary(d.r.Sources),
			Fix:     noIdentityFix()}
		return
	}
	if d.failErr == nil {
		return
	}
	if d.skew != nil {
		d.r.Problem = d.problem(StepClock, d.skew)
		return
	}
	d.r.Problem = d.problem(d.failStep, d.failErr)
}

func (d *doctorRun) problem(step string, err error) *DoctorProblem {
	var nse *token.NoSourceError
	var se *token.SourceError
	var xe *acr.Error
	var ng *noGrantError
	var cs *clockSkewError
	switch {
	case errors.As(err, &cs):
		return &DoctorProblem{Code: ProblemClockSkew, Summary: "this machine's clock disagrees with the servers': " + cs.Error(),
			Fix: "set this machine's clock right and keep it synchronised (NTP: e.g. 'timedatectl set-ntp true', chrony or w32time), then retry"}
	case errors.As(err, &nse):
		return &DoctorProblem{Code: ProblemNoIdentity, Summary: nse.Error(),
			Fix: noIdentityFix() + "; " + noSourceAdvice(nse, adviceContext{sourcesChosen: d.sourcesChosen()})}
	case errors.As(err, &ng):
		return &DoctorProblem{Code: ProblemMissingRole, Summary: ng.Error() + d.identityEvidence(),
			Fix: d.roleFix()}
	case errors.As(err, &se):
		return d.sourceProblem(se)
	case errors.As(err, &xe):
		return d.registryProblem(step, xe)
	}
	return &DoctorProblem{Code: ProblemOther, Summary: step + ": " + err.Error(), Fix: "fix what the summary names, then rerun doctor"}
}

func (d *doctorRun) sourcesChosen() bool {
	for _, st := range d.r.Steps {
		if st.Name == StepSettings {
			return !strings.HasPrefix(st.Detail, "sources automatic order")
		}
	}
	return false
}

func (d *doctorRun) sourceProblem(se *token.SourceError) *DoctorProblem {
	switch {
	case se.Remedy == token.RemedyAssignIdentity:
		id := se.ClientID
		if id == "" {
			id = "named"
		}
		return &DoctorProblem{Code: ProblemIdentityNotFound,
			Summary: fmt.Sprintf("the %s does not know the user-assigned identity %s: it is not assigned to this machine (%s)", se.Endpoint, id, se.Error()),
			Fix: "assign the identity to this VM, scale set or AKS node pool (e.g. 'az vm identity assign --identities <identity resource id>'), " +
				"or set " + config.EnvClientID + " (clientID in the config file, or AZURE_CLIENT_ID) to an identity that is assigned, or unset it to use the system-assigned identity"}
	case se.Code == "AADSTS70021":
		a := token.Assertion{}
		if se.Assertion != nil {
			a = *se.Assertion
		}
		return &DoctorProblem{Code: ProblemFederatedMismatch,
			Summary: fmt.Sprintf("Entra has no federated credential on app %s (tenant %s) matching the assertion: issuer %q, subject %q, audience %q (AADSTS70021)",
				orUnknown(se.ClientID), orUnknown(se.TenantID), a.Issuer, a.Subject, a.Audience),
			Fix: fmt.Sprintf("add a federated identity credential to app %s with exactly that issuer, subject and audience "+
				"(az ad app federated-credential create --id %s --parameters '{\"name\":\"…\",\"issuer\":%q,\"subject\":%q,\"audiences\":[%q]}'), "+
				"or fix the client ID or the token's subject (service account, namespace, branch)", orUnknown(se.ClientID), orUnknown(se.ClientID), a.Issuer, a.Subject, a.Audience)}
	case se.Code == "AADSTS700024":
		return &DoctorProblem{Code: ProblemClockSkew, Summary: "Entra found the assertion outside its valid time (AADSTS700024): " + se.Error(),
			Fix: "set this machine's clock right (NTP); if the clock is right, the federated token file is stale: check that it is being renewed"}
	}
	fix := sourceAdvice(se)
	if fix == "" {
		fix = "fix what the summary names, then rerun doctor"
	}
	return &DoctorProblem{Code: ProblemOther, Summary: se.Error(), Fix: fix}
}

func (d *doctorRun) registryProblem(step string, xe *acr.Error) *DoctorProblem {
	switch {
	case xe.Kind == acr.KindARMAudienceDisallowed:
		advice, _ := exchangeAdvice(xe)
		return &DoctorProblem{Code: ProblemAudienceDisallowed,
			Summary: "the registry refuses ARM-audience Entra tokens (its azureADAuthenticationAsArmPolicy is disabled): " + xe.Error(), Fix: advice}
	case xe.Kind == acr.KindFirewall:
		ip := xe.ClientIP
		if ip == "" {
			ip = "(not named by the registry)"
		}
		return &DoctorProblem{Code: ProblemFirewall,
			Summary: fmt.Sprintf("the registry's network rules refuse this client; the registry saw IP %s: %s", ip, xe.Error()),
			Fix: fmt.Sprintf("allow %s in the registry's network rules (az acr network-rule add --name <registry> --ip-address %s), "+
				"or reach the registry through its private endpoint from its virtual network (see https://aka.ms/acr/firewall)", ip, ip)}
	case xe.Kind == acr.KindForbidden, xe.Kind == acr.KindUnauthorized && step == StepRegistryToken:
		return &DoctorProblem{Code: ProblemMissingRole, Summary: "the registry refuses this identity: " + xe.Error() + d.identityEvidence(), Fix: d.roleFix()}
	case xe.Kind == acr.KindNetwork:
		return unreachable(xe)
	}
	fix, _ := exchangeAdvice(xe)
	if fix == "" {
		fix = "fix what the summary names, then rerun doctor"
	}
	return &DoctorProblem{Code: ProblemOther, Summary: xe.Error(), Fix: fix}
}

// unreachable says which of DNS, connect and TLS failed.
func unreachable(xe *acr.Error) *DoctorProblem {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	what, fix := "connect", "check the network path to the registry, firewalls, and the proxy settings (HTTPS_PROXY, NO_PROXY); "+
		"a registry with a private endpoint is reachable only from its virtual network (or a peered one, or over VPN)"
	switch {
	case errors.As(xe.Err, &dnsErr):
		what, fix = "DNS", "check the registry's name and this machine's DNS; a registry with a private endpoint resolves to its private address "+
			"only through the private DNS zone privatelink.azurecr.io linked to this network (or a forwarder to it)"
	case errors.As(xe.Err, &unknownCA), errors.As(xe.Err, &hostErr), errors.As(xe.Err, &invalidCert), errors.As(xe.Err, &verifyErr),
		errors.As(xe.Err, &recErr), errors.As(xe.Err, &alert):
		what, fix = "TLS", "something in the way does not show the registry's certificate: a TLS-inspecting proxy needs its CA in the system trust store (or SSL_CERT_FILE); "+
			"if the name resolves to a private endpoint, check that the private DNS zone points at the registry's"
	}
	return &DoctorProblem{Code: ProblemRegistryUnreachable,
		Summary: fmt.Sprintf("the login server %s cannot be reached (%s failed): %s", xe.LoginServer, what, xe.Error()), Fix: fix}
}

// identityEvidence names the identity that signed in, from its Entra
// token's claims.
func (d *doctorRun) identityEvidence() string {
	if !d.haveEntra {
		return ""
	}
	s := "; identity: object id " + orUnknown(d.entra.ObjectID)
	if d.entra.AppID != "" {
		s += ", app id " + d.entra.AppID
	}
	if d.entra.Tenant != "" {
		s += ", tenant " + d.entra.Tenant
	}
	return s
}

func (d *doctorRun) roleFix() string {
	oid := "<object id>"
	if d.haveEntra && d.entra.ObjectID != "" {
		oid = d.entra.ObjectID
	}
	return fmt.Sprintf("grant the identity (object id %s) the AcrPull role on the registry: "+
		"az role assignment create --assignee-object-id %s --assignee-principal-type ServicePrincipal --role AcrPull --scope <registry resource id> "+
		"(a registry with ABAC-enabled repository permissions needs 'Container Registry Repository Reader' instead)", oid, oid)
}

func noIdentityFix() string {
	return "give this machine an identity: on Azure, a managed identity; in CI, workload identity federation (github, pipelines, or AZURE_FEDERATED_TOKEN_FILE with AZURE_CLIENT_ID and AZURE_TENANT_ID); " +
		"a service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH); or log in with 'az login' or 'azd auth login'"
}

func unavailableSummary(sources []DoctorSource) string {
	var names []string
	for _, s := range sources {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "no sources are configured"
	}
	return "none of " + strings.Join(names, ", ") + " is usable (each source's reason is listed with it)"
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// WriteText writes the report as a checklist of ✓ and ✗ lines with
// times, ending in the problem and its fix.
func (r *DoctorReport) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Registry != nil {
		fmt.Fprintf(&b, "docker-credential-acr doctor: %s\n", *r.Registry)
	} else {
		b.WriteString("docker-credential-acr doctor: this machine\n")
	}
	b.WriteString("\nIdentity sources (in the order tried):\n")
	for _, s := range r.Sources {
		mark, note := "✗", ""
		if s.Available {
			mark = "✓"
		}
		if r.Chosen != nil && *r.Chosen == s.Name {
			note = " [chosen]"
		}
		fmt.Fprintf(&b, "  %s %-10s%s %s\n", mark, s.Name, note, s.Reason)
	}
	b.WriteString("\nMachine:\n")
	writeSteps(&b, r.Checks)
	if len(r.Steps) > 0 {
		b.WriteString("\nSteps (fresh, no cache):\n")
		writeSteps(&b, r.Steps)
	}
	if r.Problem == nil {
		b.WriteString("\nNo problem found.\n")
	} else {
		fmt.Fprintf(&b, "\nProblem: %s\n  %s\nFix:\n  %s\n", r.Problem.Code, r.Problem.Summary, r.Problem.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSteps(b *strings.Builder, steps []DoctorStep) {
	for _, s := range steps {
		mark := "✗"
		if s.OK {
			mark = "✓"
		}
		fmt.Fprintf(b, "  %s %-15s %8.1f ms  %s\n", mark, s.Name, s.MS, s.Detail)
	}
}
