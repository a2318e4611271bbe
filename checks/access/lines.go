package access

import (
	"bytes"
	"strings"
)

// logicalLine is one logical line of a table file, as readllines() in
// Postfix's src/util/readlline.c returns it.
type logicalLine struct {
	text string // the joined text, continuation lines keep their leading whitespace
	line int    // the first physical line, from 1
}

// isSpace is C's isspace() in the "C" locale, which Postfix's ISSPACE uses.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// trimSpace trims isSpace bytes from both ends (Postfix's trimblanks and
// the skipping of leading whitespace).
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

// readLogicalLines splits data into logical lines (readlline(3)): empty
// lines, whitespace-only lines and lines whose first non-whitespace
// character is '#' are ignored, even between a line and its continuation; a
// line that starts with whitespace continues the logical line before it.
//
// Postfix warns about and ignores text that starts with whitespace before
// any logical line, and warns that text after a NUL byte may be ignored;
// both are errors here.
func readLogicalLines(file string, data []byte, errs *errList) []logicalLine {
	var lines []logicalLine
	var cur *strings.Builder
	curLine := 0
	flush := func() {
		if cur != nil {
			lines = append(lines, logicalLine{text: cur.String(), line: curLine})
			cur = nil
		}
	}
	for n := 1; len(data) > 0; n++ {
		var phys []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			phys, data = data[:i], data[i+1:]
		} else {
			phys, data = data, nil
		}
		if bytes.IndexByte(phys, 0) >= 0 {
			errs.add(n, ErrSyntax, "is this a binary file? give the text source file", "NUL byte in line")
			continue
		}
		first := 0
		for first < len(phys) && isSpace(phys[first]) {
			first++
		}
		if first == len(phys) || phys[first] == '#' {
			continue // blank or comment line
		}
		if first > 0 {
			if cur == nil {
				errs.add(n, ErrSyntax, "a line that starts with whitespace continues the line before it; remove the leading whitespace",
					"text starts with whitespace but there is no line before it to continue")
				continue
			}
			cur.Write(phys)
			continue
		}
		flush()
		cur = &strings.Builder{}
		cur.Write(phys)
		curLine = n
	}
	flush()
	return lines
}
