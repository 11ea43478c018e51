// Package config reads the docker-credential-acr config file and resolves
// the effective settings for one registry from it, the environment and
// the built-in defaults.
//
// Every per-registry setting is one row of one table (table.go): its YAML
// key, its environment variable, its check and its precedence group. The
// environment and the file both go through that row, so a value is
// checked once, with one wording, and each caller only says where the
// value came from ("DOCKER_CREDENTIAL_ACR_TENANT_ID: …", "line 4:
// tenantID: …"). The file is decoded by walking the yaml.Node tree with
// the same table, for line numbers, unknown keys and did-you-mean hints.
//
// Because the file decides where tokens are sent (custom clouds), Load
// refuses, on Unix, a file that another user could change (trust.go).
package config

// The config file chooses an identity per registry. Its schema, in full:
//
//	# Applies to every registry unless an entry below says otherwise.
//	default:
//	  sources: [workload, managed, cli]   # ordered; or "workload,managed,cli"
//	  tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47
//
//	registries:
//	  # An exact login server (any spelling loginserver.Parse accepts) ...
//	  - match: prod.azurecr.io
//	    sources: [managed]
//	    clientID: 11111111-1111-1111-1111-111111111111   # user-assigned identity
//	    # or resourceID: /subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/name
//	    # or objectID: 22222222-2222-2222-2222-222222222222
//	    audience: acr-then-arm                           # acr (default) | arm | acr-then-arm
//	    # or scope: https://management.azure.com/.default (an explicit Entra scope)
//	    username: zero-guid                              # token (default, "<token>") | zero-guid
//	    challenge: always                                # auto (default) | always: read GET /v2/ first
//	  # ... or a one-label wildcard: "*.azurecr.io" matches x.azurecr.io,
//	  # "*.eastus.geo.azurecr.io" matches x.eastus.geo.azurecr.io.
//	  - match: "*.azurecr.io"
//	    sources: [workload]
//	    clientID: 33333333-3333-3333-3333-333333333333
//
//	# Custom or air-gapped clouds (Azure Stack Hub and the like). Opt-in:
//	# without this list only azurecr.io, azurecr.cn and azurecr.us are ours.
//	clouds:
//	  - name: stack
//	    suffix: azurecr.contoso.local                  # login servers are <name>.<suffix>
//	    authorityHost: https://login.contoso.local/    # https only
//	    scope: https://containerregistry.contoso.local/.default  # default: the ACR scope
//	    armScope: https://management.contoso.local/.default      # needed for audience arm
//
//	# Registry mirrors, for the kubelet front end only (containerd pulls
//	# the upstream's images from the ACR). Opt-in; the registry must be a
//	# login server. The kubelet's requests for the upstream are answered
//	# with the mirror's token, keyed by the upstream host.
//	mirrors:
//	  - upstream: mcr.microsoft.com
//	    registry: myreg.azurecr.io
//
// Keys are case-sensitive and unknown keys are errors. Within an entry,
// clientID, resourceID and objectID are alternatives, as are audience and
// scope.
//
// Precedence, per setting, highest first:
//
//  1. DOCKER_CREDENTIAL_ACR_* environment variables: _SOURCES, _CLIENT_ID,
//     _TENANT_ID, _SCOPE, _AUDIENCE, _USERNAME, _CHALLENGE.
//  2. The registry's entry: an exact match, else the wildcard that matches.
//  3. The default entry.
//  4. The ambient AZURE_CLIENT_ID and AZURE_TENANT_ID.
//  5. Built-in defaults: automatic sources, audience acr, username <token>,
//     challenge auto.
//
// The ambient AZURE_* variables rank below the file on purpose: AKS
// workload identity, GitHub Actions and azure/login set them for every
// process, and letting them win would give every registry the same
// identity and make per-registry identities impossible exactly where they
// are needed. DOCKER_CREDENTIAL_ACR_CLIENT_ID and _TENANT_ID are the
// explicit overrides. The identity (clientID, resourceID or objectID) is
// taken as a whole from the highest level that sets any of them.
