package credhelper

import (
	"fmt"
	"strings"
)

// unifiedDiff is the change from old to new as a unified diff (diff -u's
// format, three lines of context), with from and to as the file names.
// It is empty when the texts are equal. Config files are small and
// configure's edits are local: the common head and tail are cut before a
// longest-common-subsequence of the lines in between.
func unifiedDiff(from, to string, old, new []byte) string {
	a, b := splitLines(string(old)), splitLines(string(new))
	ops := lineOps(a, b)
	const context = 3
	var out strings.Builder
	for start := 0; start < len(ops); {
		// Find the next change.
		for start < len(ops) && ops[start].kind == ' ' {
			start++
		}
		if start == len(ops) {
			break
		}
		lo := max(start-context, 0)
		// Extend the hunk while changes are within 2*context lines.
		end, same := start, 0
		for i := start; i < len(ops) && same <= 2*context; i++ {
			if ops[i].kind == ' ' {
				same++
			} else {
				same, end = 0, i+1
			}
		}
		hi := min(end+context, len(ops))
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
		}
		aStart, bStart, aLen, bLen := ops[lo].a, ops[lo].b, 0, 0
		for _, op := range ops[lo:hi] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range ops[lo:hi] {
			out.WriteByte(op.kind)
			out.WriteString(op.text)
			if !strings.HasSuffix(op.text, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		start = hi
	}
	return out.String()
}

// hunkRange is a hunk header's "start,length", 1-based; an empty range
// names the line before it, as diff does.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits s after each '\n'; a last line without one is kept.
func splitLines(s string) []string {
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// lineOp is one line of the diff: ' ' kept, '-' removed, '+' added, with
// its 0-based index in the old (a) and new (b) texts at that point.
type lineOp struct {
	kind byte
	text string
	a, b int
}

func lineOps(a, b []string) []lineOp {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	var ops []lineOp
	for i := 0; i < head; i++ {
		ops = append(ops, lineOp{' ', a[i], i, i})
	}
	ops = append(ops, lcsOps(a[head:len(a)-tail], b[head:len(b)-tail], head, head)...)
	for i := 0; i < tail; i++ {
		ai, bi := len(a)-tail+i, len(b)-tail+i
		ops = append(ops, lineOp{' ', a[ai], ai, bi})
	}
	return ops
}

// lcsOps diffs the middle parts by a longest common subsequence; beyond
// a size no config file reaches it gives up and replaces them whole.
func lcsOps(a, b []string, aOff, bOff int) []lineOp {
	var ops []lineOp
	if len(a)*len(b) > 1<<22 {
		for i, s := range a {
			ops = append(ops, lineOp{'-', s, aOff + i, bOff})
		}
		for j, s := range b {
			ops = append(ops, lineOp{'+', s, aOff + len(a), bOff + j})
		}
		return ops
	}
	// n[i][j] is the LCS length of a[i:] and b[j:].
	n := make([][]int, len(a)+1)
	for i := range n {
		n[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				n[i][j] = n[i+1][j+1] + 1
			} else {
				n[i][j] = max(n[i+1][j], n[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, lineOp{' ', a[i], aOff + i, bOff + j})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || n[i+1][j] >= n[i][j+1]):
			ops = append(ops, lineOp{'-', a[i], aOff + i, bOff + j})
			i++
		default:
			ops = append(ops, lineOp{'+', b[j], aOff + i, bOff + j})
			j++
		}
	}
	return ops
}
