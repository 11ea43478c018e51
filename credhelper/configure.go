package credhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/loginserver"
)

// HelperName is the credHelpers value that makes docker and the
// containers tools run docker-credential-acr.
const HelperName = "acr"

// helperBinary is what docker looks for on PATH for HelperName.
const helperBinary = "docker-credential-" + HelperName

// ConfigureOptions say what Configure does.
type ConfigureOptions struct {
	// Registries are login servers, as the user typed them; a bare
	// registry name (letters and digits only) means NAME.azurecr.io.
	Registries []string
	// DockerConfig is docker's config.json; empty means
	// DockerConfigPath. ContainersAuth is the containers auth.json; empty
	// means ContainersAuthPath.
	DockerConfig, ContainersAuth string
	// Remove takes the entries out instead of adding them.
	Remove bool
	// DryRun writes nothing and prints the change as a unified diff.
	DryRun bool
	// Force replaces (or, with Remove, removes) entries that name another
	// helper.
	Force bool
	// LookPath finds the helper binary for the PATH warning; nil means
	// exec.LookPath.
	LookPath func(string) (string, error)
}

// ErrConfigureUsage is wrapped by Configure's errors about its arguments
// (as opposed to the files): the command line needs fixing.
var ErrConfigureUsage = errors.New("usage")

// ErrConfigureRefused is wrapped when an entry was left alone because it
// names another helper; everything else was done.
var ErrConfigureRefused = errors.New("refused")

// Configure adds (or removes) credHelpers entries mapping each registry
// to "acr" in docker's config.json and in the containers auth.json. It
// prints one line per file on stdout (with DryRun: the diff on stdout and
// that line on stderr) and warnings on stderr. Every file is read and
// checked before any is written: a file that is not valid JSON, or not
// writable, stops the run with nothing written. See configure_json.go for
// how the text is edited.
func (h *Helper) Configure(ctx context.Context, o ConfigureOptions, stdout, stderr io.Writer) error {
	hosts, err := h.configureHosts(o.Registries)
	if err != nil {
		return err
	}
	paths, err := configurePaths(o, h.o.Getenv)
	if err != nil {
		return err
	}
	var plans []*filePlan
	var problems []error
	for _, p := range paths {
		plan, err := planFile(p, hosts, o)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		plans = append(plans, plan)
	}
	if len(problems) > 0 {
		return nothingWritten(problems)
	}
	warn := func(format string, args ...any) {
		fmt.Fprintf(stderr, "docker-credential-acr: configure: warning: "+format+"\n", args...)
	}
	lookPath := o.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	if !o.Remove {
		if _, err := lookPath(helperBinary); err != nil {
			warn("%s is not on PATH, so docker and podman will not find it for these registries; install it (sudo make install) or add its directory to PATH", helperBinary)
		}
	}
	var refused []string
	for _, p := range plans {
		for _, c := range p.conflicts {
			what := "replace it"
			if o.Remove {
				what = "remove it"
			}
			warn("%s: %s is left to the helper %s; pass --force to %s", p.f.path, c.host, c.helper, what)
			refused = append(refused, c.host+" in "+p.f.path)
		}
		for _, host := range p.secrets {
			warn("%s: \"auths\" holds a stored password for %s, which credHelpers now overrides (docker and podman ask %s instead); remove that entry from \"auths\" if it is no longer needed", p.f.path, host, helperBinary)
		}
	}
	for _, p := range plans {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.DryRun {
			from := p.f.path
			if !p.f.exists {
				from = "/dev/null"
			}
			fmt.Fprint(stdout, unifiedDiff(from, p.f.path, p.f.data, p.newData))
			fmt.Fprintf(stderr, "dry run, nothing written: %s\n", p.summary(""))
			continue
		}
		backup := ""
		if p.changed() {
			if backup, err = p.f.write(p.newData); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, p.summary(backup))
	}
	if len(refused) > 0 {
		return fmt.Errorf("%w: left alone, naming another helper: %s; pass --force to change them", ErrConfigureRefused, strings.Join(refused, ", "))
	}
	return nil
}

// nothingWrittenError is the files' refusals, each still testable with
// errors.Is.
type nothingWrittenError []error

func nothingWritten(errs []error) error { return nothingWrittenError(errs) }

func (e nothingWrittenError) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return "nothing was written:\n  " + strings.Join(lines, "\n  ")
}

func (e nothingWrittenError) Unwrap() []error { return e }

// configureHosts turns the arguments into canonical login servers, with
// the config file's custom clouds, in order and without repeats.
func (h *Helper) configureHosts(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: name at least one registry, e.g. docker-credential-acr configure myreg.azurecr.io", ErrConfigureUsage)
	}
	cfg, err := h.config()
	if err != nil {
		return nil, err
	}
	var hosts, bad []string
	for i, a := range args {
		reg, err := loginserver.Parse(bareRegistryHost(a), cfg.CloudSuffixes()...)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", argName(i, a), err))
			continue
		}
		if !contains(hosts, reg.Host) {
			hosts = append(hosts, reg.Host)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s; give a login server such as myreg.azurecr.io, or a registry name such as myreg", ErrConfigureUsage, strings.Join(bad, "; "))
	}
	return hosts, nil
}

// bareRegistryHost makes a bare registry name (ASCII letters and digits
// only, as ACR names are) a public-cloud login server; anything else is
// left to the parser as it is.
func bareRegistryHost(a string) string {
	if a == "" {
		return a
	}
	for i := 0; i < len(a); i++ {
		c := a[i] | 0x20
		if !('a' <= c && c <= 'z' || '0' <= a[i] && a[i] <= '9') {
			return a
		}
	}
	return a + ".azurecr.io"
}

// argName names an argument in an error. One that may carry userinfo is
// named by position only: it may hold a password.
func argName(i int, a string) string {
	if strings.ContainsAny(a, "@") {
		return fmt.Sprintf("argument %d", i+1)
	}
	return strconv.Quote(a)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// configurePaths are the files to edit, the same file once.
func configurePaths(o ConfigureOptions, getenv func(string) string) ([]string, error) {
	docker, containers := o.DockerConfig, o.ContainersAuth
	var err error
	if docker == "" {
		if docker, err = DockerConfigPath(getenv); err != nil {
			return nil, err
		}
	}
	if containers == "" {
		if containers, err = ContainersAuthPath(getenv); err != nil {
			return nil, err
		}
	}
	same := func(a, b string) bool {
		if ra, err := filepath.EvalSymlinks(a); err == nil {
			a = ra
		}
		if rb, err := filepath.EvalSymlinks(b); err == nil {
			b = rb
		}
		return filepath.Clean(a) == filepath.Clean(b)
	}
	if same(docker, containers) {
		return []string{docker}, nil
	}
	return []string{docker, containers}, nil
}

// filePlan is what configure will do to one file.
type filePlan struct {
	f                        *configFile
	newData                  []byte
	added, replaced, removed []string
	already, absent          []string
	conflicts                []helperConflict
	secrets                  []string // hosts with a password in auths
	replacedWas              map[string]string
}

type helperConflict struct{ host, helper string }

func (p *filePlan) changed() bool {
	return len(p.added)+len(p.replaced)+len(p.removed) > 0
}

// planFile reads path and works out its new content.
func planFile(path string, hosts []string, o ConfigureOptions) (*filePlan, error) {
	f, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	p, err := planEdit(f.data, hosts, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.f = f
	if p.changed() && !o.DryRun {
		if err := f.checkWritable(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planEdit works out a file's new content from its old, touching no
// disk: the JSON merge alone, which FuzzConfigureMerge drives.
func planEdit(data []byte, hosts []string, o ConfigureOptions) (*filePlan, error) {
	doc, err := parseJSONDoc(data)
	if err != nil {
		return nil, fmt.Errorf("%w; it was left untouched. Fix it (or move it away) and run configure again", err)
	}
	i, err := doc.memberIndex("credHelpers")
	if err != nil {
		return nil, fmt.Errorf("%w; it was left untouched", err)
	}
	entries, err := doc.helperEntries(i)
	if err != nil {
		return nil, fmt.Errorf("%w; it was left untouched", err)
	}
	p := &filePlan{replacedWas: map[string]string{}}
	entries = p.apply(entries, hosts, o)
	if !p.changed() {
		p.newData = data
		return p, nil
	}
	p.newData = doc.withHelpers(i, entries)
	if !o.Remove && doc != nil {
		for _, host := range hosts {
			if doc.storedSecret(host) {
				p.secrets = append(p.secrets, host)
			}
		}
	}
	return p, nil
}

// apply edits the credHelpers entries for hosts and records what it did.
func (p *filePlan) apply(entries []helperEntry, hosts []string, o ConfigureOptions) []helperEntry {
	acr := strconv.Quote(HelperName)
	for _, host := range hosts {
		at := -1
		for j, e := range entries {
			if e.host == host {
				at = j // the last one is what docker obeys
			}
		}
		switch {
		case at < 0 && o.Remove:
			p.absent = append(p.absent, host)
		case at < 0:
			entries = append(entries, helperEntry{rawKey: strconv.Quote(host), rawVal: acr, host: host, helper: HelperName})
			p.added = append(p.added, host)
		case entries[at].helper != HelperName && !o.Force:
			p.conflicts = append(p.conflicts, helperConflict{host, strconv.Quote(entries[at].helper)})
		case o.Remove:
			entries = dropHost(entries, host, -1)
			p.removed = append(p.removed, host)
		case entries[at].helper != HelperName:
			p.replacedWas[host] = entries[at].helper
			entries[at].rawVal, entries[at].helper = acr, HelperName
			entries = dropHost(entries, host, at)
			p.replaced = append(p.replaced, host)
		default:
			p.already = append(p.already, host)
		}
	}
	return entries
}

// dropHost removes host's entries except the one at keep.
func dropHost(entries []helperEntry, host string, keep int) []helperEntry {
	out := entries[:0:0]
	for j, e := range entries {
		if e.host != host || j == keep {
			out = append(out, e)
		}
	}
	return out
}

// summary is the file's one line of output.
func (p *filePlan) summary(backup string) string {
	var did, kept []string
	list := func(verb string, hosts []string) {
		if len(hosts) > 0 {
			did = append(did, verb+" "+strings.Join(hosts, ", "))
		}
	}
	if !p.f.exists && p.changed() {
		did = append(did, "created")
	}
	list("added", p.added)
	for _, h := range p.replaced {
		did = append(did, fmt.Sprintf("replaced %s (was %q)", h, p.replacedWas[h]))
	}
	list("removed", p.removed)
	if len(p.already) > 0 {
		verb := " already uses "
		if len(p.already) > 1 {
			verb = " already use "
		}
		kept = append(kept, strings.Join(p.already, ", ")+verb+HelperName)
	}
	if len(p.absent) > 0 {
		kept = append(kept, "no entry for "+strings.Join(p.absent, ", "))
	}
	for _, c := range p.conflicts {
		kept = append(kept, c.host+" left to "+c.helper)
	}
	line := p.f.path + ": "
	if len(did) == 0 {
		return line + "unchanged (" + strings.Join(kept, "; ") + ")"
	}
	line += strings.Join(did, "; ")
	if len(kept) > 0 {
		line += "; " + strings.Join(kept, "; ")
	}
	if backup != "" {
		line += "; backup in " + backup
	}
	return line
}
