package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

// runConfigure writes the credHelpers entries; the work is
// credhelper.Helper.Configure. Exit status: 0 done (or nothing to do), 1 a
// file was refused or could not be written, 2 a usage error.
func runConfigure(args []string, _ io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var o credhelper.ConfigureOptions
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "docker-credential-acr: configure: "+format+"; see 'docker-credential-acr configure --help'\n", a...)
		return 2
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--help", "-h":
			fmt.Fprint(stdout, configureUsage)
			return 0
		case "--remove":
			o.Remove = true
		case "--dry-run":
			o.DryRun = true
		case "--force":
			o.Force = true
		case "--docker-config", "--containers-auth":
			if !hasValue {
				if i+1 == len(args) {
					return usageErr("%s needs a path", name)
				}
				i++
				value = args[i]
			}
			if value == "" {
				return usageErr("%s needs a path", name)
			}
			if name == "--docker-config" {
				o.DockerConfig = value
			} else {
				o.ContainersAuth = value
			}
		case "--":
			o.Registries = append(o.Registries, args[i+1:]...)
			i = len(args)
		default:
			if strings.HasPrefix(a, "-") {
				return usageErr("unknown flag %q", oneLine(name))
			}
			o.Registries = append(o.Registries, a)
		}
	}
	if len(o.Registries) == 0 {
		return usageErr("name at least one registry, e.g. docker-credential-acr configure myreg.azurecr.io")
	}
	helper, closeLog := newCommandHelper(getenv, stderr)
	defer closeLog()
	err := helper.Configure(context.Background(), o, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, credhelper.ErrConfigureUsage):
		return usageErr("%s", strings.TrimPrefix(err.Error(), credhelper.ErrConfigureUsage.Error()+": "))
	default:
		fmt.Fprintln(stderr, "docker-credential-acr: configure: "+err.Error())
		return 1
	}
}

const configureUsage = `Usage: docker-credential-acr configure REGISTRY... [--docker-config PATH]
       [--containers-auth PATH] [--remove] [--dry-run] [--force]

Adds credHelpers entries mapping each REGISTRY to "acr", so that docker,
podman, skopeo and buildah run docker-credential-acr for it, in
  docker's config.json        $DOCKER_CONFIG/config.json, else ~/.docker/config.json
  the containers auth.json    $REGISTRY_AUTH_FILE, else
                              $XDG_RUNTIME_DIR/containers/auth.json, else
                              ~/.config/containers/auth.json
creating them (directories 0700, files 0600) where needed.

REGISTRY is a login server (myreg.azurecr.io, a regional or DNL one, a
custom cloud's from the config file), checked as 'get' checks it; a bare
name of letters and digits (myreg) means myreg.azurecr.io.

Everything else in the files is kept as it was: auths, credsStore,
proxies, unknown keys, key order and indentation. The write is atomic,
keeps the file's mode, writes through a symbolic link to its target, and
keeps the previous content in FILE.bak next to it. Running it again
changes nothing and says so. A file that is not valid JSON, or is
read-only, is left untouched and nothing is written.

  --docker-config PATH     edit this file instead of docker's config.json
  --containers-auth PATH   edit this file instead of the containers auth.json
  --remove                 remove the registries' entries instead
  --dry-run                print the change as a unified diff; write nothing
  --force                  replace (or remove) entries naming another helper,
                           which are otherwise left alone with a warning

Output: one line per file on stdout saying what changed (with --dry-run,
the diff on stdout and that line on stderr); warnings on stderr.

Exit status: 0 done, or nothing to do; 1 a file was refused or could not
be written, or an entry naming another helper was left alone; 2 a usage
error (no registry, an unknown flag, an argument that is not a login
server).
`
