package main

import "io"

// A command is one of the binary's commands beyond the docker-credential
// protocol's get, store, erase and list (which docker-credential-helpers
// dispatches). The table is the one list of them: the dispatcher, the
// help text, shell completion and the man page are all made from it, so a
// command cannot be runnable and undocumented.
type command struct {
	name    string
	summary string // one line for the command list in 'help'
	// usage is the text of '<name> --help': a "Usage:" line, then what it
	// does, its flags and its exit status.
	usage string
	// subcommands are the words completion offers first (cache list, …).
	subcommands []string
	// flags are the options completion offers.
	flags []string
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int
}

// commands lists them in the order help shows them. A function, not a
// variable: no package-level state.
func commands() []command {
	return []command{
		{name: "configure", summary: "add (--remove: remove) credHelpers entries for registries in docker's and podman's files",
			usage: configureUsage, flags: []string{"--docker-config", "--containers-auth", "--remove", "--dry-run", "--force", "--help"}, run: runConfigure},
		{name: "kubelet", summary: "the kubelet's image credential provider: a CredentialProviderRequest on stdin",
			usage: kubeletUsage, flags: []string{"--print-config", "--sa-mode", "--help"}, run: runKubelet},
		{name: "doctor", summary: "explain this machine and, with a registry, why a get fails: checklist or --json",
			usage: doctorUsage, flags: []string{"--repository", "--json", "--help"}, run: runDoctor},
		{name: "token", summary: "print a registry's refresh token, for helm, oras, notation (--password-stdin)",
			usage: tokenUsage, flags: []string{"--json", "--help"}, run: runToken},
		{name: "cache", summary: "list or clear the token cache: cache list [--json], cache clear [REGISTRY]",
			usage: cacheUsage, subcommands: []string{"list", "clear"}, flags: []string{"--json", "--help"}, run: runCache},
		{name: "completion", summary: "print a shell completion script: completion bash|zsh|fish",
			usage: completionUsage, subcommands: []string{"bash", "zsh", "fish"}, flags: []string{"--help"}, run: runCompletion},
	}
}

// lookupCommand finds a command of the table by name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// lookupAnyCommand finds a command of the table or a built-in one.
func lookupAnyCommand(name string) (command, bool) {
	for _, c := range allCommands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}
