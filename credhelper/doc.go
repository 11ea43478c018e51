// Package credhelper holds the front ends of docker-credential-acr for
// Azure Container Registry: the docker-credential protocol (Helper: for
// each get it recognises the login server, chooses the identity for that
// registry, and answers with an ACR refresh token), the kubelet's image
// credential provider (Helper.Kubelet), and the operator commands
// (Configure, Doctor, Token, the cache listing and clearing).
//
// The parts it wires together have packages of their own. Recognition is a
// security boundary, credhelper/loginserver: a host it accepts receives an
// Entra token exchange, so it accepts only the documented login-server
// shapes under the known ACR suffixes and rejects everything else. The
// per-registry choice of identity comes from environment variables and an
// optional YAML file, credhelper/config (config.Load, Config.Resolve).
//
// It is also where the token packages' structured errors get the advice a
// user needs (advice.go, advice_exchange.go): which variable, config key
// or command fixes what the error reports.
package credhelper
