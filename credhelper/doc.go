// Package credhelper implements the docker-credential protocol for Azure
// Container Registry: for each get it recognises the login server, chooses
// the identity for that registry, and answers get/store/erase/list with an
// ACR refresh token.
//
// The parts it wires together have packages of their own. Recognition is a
// security boundary, credhelper/loginserver: a host it accepts receives an
// Entra token exchange, so it accepts only the documented login-server
// shapes under the known ACR suffixes and rejects everything else. The
// per-registry choice of identity comes from environment variables and an
// optional YAML file, credhelper/config (config.Load, Config.Resolve).
//
// It is also where the token packages' structured errors get the advice a
// docker user needs (advice.go): which variable, config key or command
// fixes what the error reports.
package credhelper
