package dkim

import (
	"io"
	"strings"
)

// The canonicalization algorithms of RFC 6376 §3.4, for the signatures we
// re-verify ourselves (recheck.go). go-msgauth has its own, unexported.

// canonHeader returns the canonical form of a raw header field (with its
// CRLF) under "simple" (§3.4.1: unchanged) or "relaxed" (§3.4.2).
func canonHeader(field string, relaxed bool) string {
	if !relaxed {
		return field
	}
	name, value, ok := strings.Cut(field, ":")
	if !ok {
		return strings.ToLower(strings.TrimSpace(field)) + ":" + crlf
	}
	// Lower-case the name; unfold; reduce each run of WSP to one SP;
	// delete WSP at the end of the value and around the colon.
	words := strings.FieldsFunc(value, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
	return strings.ToLower(strings.TrimSpace(name)) + ":" + strings.Join(words, " ") + crlf
}

// removeBValue returns the DKIM-Signature field with the value of its b=
// tag deleted, "including all surrounding whitespace" (RFC 6376 §3.7): the
// text between "b=" and the next ";" or the end of the field, trailing
// CRLF included (the caller drops it anyway). Only a tag named exactly b is
// touched, unlike a pattern match that would also hit "xb=" or a value
// containing "b=".
func removeBValue(field string) string {
	colon := strings.IndexByte(field, ':')
	if colon < 0 {
		return field
	}
	start := colon + 1
	for start <= len(field) {
		end := strings.IndexByte(field[start:], ';')
		if end < 0 {
			end = len(field)
		} else {
			end += start
		}
		seg := field[start:end]
		if name, _, ok := strings.Cut(seg, "="); ok && strings.TrimSpace(name) == "b" {
			eq := start + strings.IndexByte(seg, '=') + 1
			return field[:eq] + field[end:]
		}
		start = end + 1
	}
	return field
}

// bodyCanon is a streaming body canonicalizer (RFC 6376 §3.4.3 simple,
// §3.4.4 relaxed) writing to w, normally a hash. Bare LF counts as a line
// end (as if CRLF); a bare CR is an ordinary character. Chunk boundaries
// may fall anywhere, including between CR and LF.
type bodyCanon struct {
	w       io.Writer
	relaxed bool
	out     []byte // reused output buffer
	cr      bool   // a CR was the last input byte, its fate unknown yet
	crlfs   int    // line ends seen and not yet written (trailing empty lines are dropped)
	wsp     bool   // relaxed: WSP seen and not yet written
	wrote   bool   // some line content was written
}

func newBodyCanon(w io.Writer, relaxed bool) *bodyCanon {
	return &bodyCanon{w: w, relaxed: relaxed}
}

func (c *bodyCanon) Write(p []byte) (int, error) {
	c.out = c.out[:0]
	for _, b := range p {
		if c.cr {
			c.cr = false
			if b == '\n' {
				c.lineEnd()
				continue
			}
			c.char('\r')
		}
		switch b {
		case '\r':
			c.cr = true
		case '\n':
			c.lineEnd()
		default:
			c.char(b)
		}
	}
	if len(c.out) > 0 {
		if _, err := c.w.Write(c.out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *bodyCanon) lineEnd() {
	// Relaxed: "Ignore all whitespace at the end of lines."
	c.wsp = false
	c.crlfs++
}

func (c *bodyCanon) char(b byte) {
	if c.relaxed && (b == ' ' || b == '\t') {
		// Relaxed: "Reduce all sequences of WSP within a line to a single
		// SP character." Held until we know the line goes on.
		c.wsp = true
		return
	}
	for ; c.crlfs > 0; c.crlfs-- {
		c.out = append(c.out, '\r', '\n')
	}
	if c.wsp {
		c.out = append(c.out, ' ')
		c.wsp = false
	}
	c.out = append(c.out, b)
	c.wrote = true
}

// Close ends the body: trailing empty lines are dropped and the last line
// gets its CRLF. Simple: an empty body is one CRLF. Relaxed: an empty body
// stays empty (RFC 6376 §3.4.4, erratum 1384's reading, as everyone does).
func (c *bodyCanon) Close() error {
	c.out = c.out[:0]
	if c.cr {
		c.cr = false
		c.char('\r')
	}
	if c.wrote || !c.relaxed {
		c.out = append(c.out, '\r', '\n')
	}
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.w.Write(c.out)
	return err
}
