package main

import (
	"fmt"
	"strings"
)

// manPage renders the manual page, in roff (man(7)), from the help text
// and the command table, so the page says what --help says. 'make man'
// writes it to man/docker-credential-acr.1.
func manPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH DOCKER-CREDENTIAL-ACR 1 \"\" %s \"User Commands\"\n", roffQuote("docker-credential-acr"))
	b.WriteString(".SH NAME\ndocker-credential-acr \\- docker credential helper for Azure Container Registry\n")
	b.WriteString(".SH SYNOPSIS\n")
	for _, c := range allCommands() {
		fmt.Fprintf(&b, ".B docker-credential-acr %s\n.br\n", c.name)
	}
	b.WriteString(".SH DESCRIPTION\n")
	roffVerbatim(&b, usage())
	b.WriteString(".SH COMMANDS\n")
	for _, c := range allCommands() {
		fmt.Fprintf(&b, ".SS %s\n%s\n", c.name, roffEscape(c.summary))
		roffVerbatim(&b, c.usage)
	}
	b.WriteString(".SH SEE ALSO\n.BR docker (1),\n.BR oras (1),\n.BR helm (1)\n")
	return b.String()
}

// roffVerbatim writes text as a no-fill block, each line escaped.
func roffVerbatim(b *strings.Builder, text string) {
	b.WriteString(".PP\n.nf\n")
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(roffEscape(line))
		b.WriteByte('\n')
	}
	b.WriteString(".fi\n")
}

// roffEscape keeps text literal: backslashes are escaped, and a line that
// begins with a control character ('.' or '\”) is guarded.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func roffQuote(s string) string {
	return `"` + strings.ReplaceAll(roffEscape(s), `"`, `\(dq`) + `"`
}
