// Package identity is the identity sources: the seven ways to get a
// Microsoft Entra ID access token (a service principal, workload identity
// federation, GitHub Actions, Azure Pipelines, managed identity, the Azure
// CLI and the Azure Developer CLI), each a token.Source, chosen by name
// (New) or by what the environment holds (Auto).
//
// Its errors are *token.SourceError values that say what happened in the
// terms of this API and carry the facts (kind, Entra code, endpoint,
// identity) a front end needs to word its own advice.
package identity
