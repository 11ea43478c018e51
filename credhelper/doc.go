// Package credhelper implements the docker-credential protocol for Azure
// Container Registry: it recognises ACR login servers, chooses the identity
// for each registry, and answers get/store/erase/list.
//
// Recognition (ParseServerURL) is a security boundary: a host it accepts
// receives an Entra token exchange, so it accepts only the documented
// login-server shapes under the known ACR suffixes and rejects everything
// else. The per-registry choice of identity comes from environment
// variables and an optional YAML file (LoadConfig, Config.Resolve).
//
// It is also where the token packages' structured errors get the advice a
// docker user needs (advice.go): which variable, config key or command
// fixes what the error reports.
package credhelper
