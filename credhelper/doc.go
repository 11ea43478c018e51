// Package credhelper implements the docker-credential protocol for Azure
// Container Registry: it recognises ACR login servers, chooses the identity
// for each registry, and answers get/store/erase/list.
//
// Recognition is a security boundary and has its own package,
// credhelper/loginserver: a host it accepts receives an Entra token
// exchange, so it accepts only the documented login-server shapes under
// the known ACR suffixes and rejects everything else. The per-registry choice of identity comes from environment
// variables and an optional YAML file (LoadConfig, Config.Resolve).
package credhelper
