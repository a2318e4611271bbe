package postfixtest

import (
	"bufio"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Reply is one SMTP reply, as the server sent it.
type Reply struct {
	Code     int      // 250, 550, ...
	Enhanced string   // RFC 3463 code of the last line ("5.7.1"), "" if none
	Text     string   // the lines' text after code and enhanced code, joined by "\n"
	Lines    []string // the raw lines, without CRLF
}

// String is the raw reply, lines joined by "\n".
func (r Reply) String() string { return strings.Join(r.Lines, "\n") }

// Client is a small SMTP client that hides nothing: every command returns
// the server's Reply, whatever its code. Its methods fail the test (Fatal)
// on I/O errors and timeouts, so they must be called from the test's
// goroutine.
type Client struct {
	// Timeout bounds each command's write and reply. Dial sets 60s:
	// longer than Postfix's milter_connect_timeout and
	// milter_command_timeout (30s), so that a hung milter shows up as
	// Postfix's reply rather than as a client timeout.
	Timeout time.Duration

	t        testing.TB
	conn     net.Conn
	r        *bufio.Reader
	greeting Reply
}

// DialSMTP connects to addr from sourceIP and reads the greeting. sourceIP
// must be in 127.0.0.0/8 (every address of it is the loopback interface's
// on Linux); empty means 127.0.0.1. The connection is closed at the end of
// the test.
func DialSMTP(t testing.TB, addr, sourceIP string) *Client {
	t.Helper()
	if sourceIP == "" {
		sourceIP = "127.0.0.1"
	}
	src, err := netip.ParseAddr(sourceIP)
	if err != nil || !src.Is4() || !src.IsLoopback() {
		t.Fatalf("postfixtest: source address %q: want an address in 127.0.0.0/8", sourceIP)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("postfixtest: dial %s from %s: %v", addr, sourceIP, err)
	}
	c := &Client{Timeout: 60 * time.Second, t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { c.Close() })
	c.greeting = c.ReadReply()
	return c
}

// Greeting is the reply the server greeted with (220, or 421/554 ...).
func (c *Client) Greeting() Reply { return c.greeting }

// LocalAddr is the client's address, as the server sees it.
func (c *Client) LocalAddr() string { return c.conn.LocalAddr().String() }

// Ehlo sends EHLO name.
func (c *Client) Ehlo(name string) Reply { return c.Cmd("EHLO " + name) }

// Helo sends HELO name.
func (c *Client) Helo(name string) Reply { return c.Cmd("HELO " + name) }

// Mail sends MAIL FROM:<from> with optional ESMTP parameters; from "" is
// the null sender.
func (c *Client) Mail(from string, params ...string) Reply {
	return c.Cmd(strings.Join(append([]string{"MAIL FROM:<" + from + ">"}, params...), " "))
}

// Rcpt sends RCPT TO:<to> with optional ESMTP parameters.
func (c *Client) Rcpt(to string, params ...string) Reply {
	return c.Cmd(strings.Join(append([]string{"RCPT TO:<" + to + ">"}, params...), " "))
}

// Data sends DATA and, when the server answers 354, the message (dot-
// stuffed, line ends made CRLF) and the final dot. It returns the final
// reply, or the reply to DATA when that is not 354.
func (c *Client) Data(msg string) Reply {
	if r := c.Cmd("DATA"); r.Code != 354 {
		return r
	}
	return c.Body(msg)
}

// Body sends a message after a 354 reply (see Data) and returns the final
// reply.
func (c *Client) Body(msg string) Reply {
	c.t.Helper()
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	msg = strings.TrimSuffix(msg, "\n")
	var b strings.Builder
	if msg != "" {
		for l := range strings.SplitSeq(msg, "\n") {
			if strings.HasPrefix(l, ".") {
				b.WriteString(".") // RFC 5321 §4.5.2
			}
			b.WriteString(l)
			b.WriteString("\r\n")
		}
	}
	b.WriteString(".\r\n")
	c.write(b.String())
	return c.ReadReply()
}

// Rset sends RSET.
func (c *Client) Rset() Reply { return c.Cmd("RSET") }

// Noop sends NOOP.
func (c *Client) Noop() Reply { return c.Cmd("NOOP") }

// XClient sends XCLIENT attrs (e.g. "LOGIN=alice"). Postfix answers with a
// new greeting (220) and forgets the EHLO: send it again.
func (c *Client) XClient(attrs string) Reply { return c.Cmd("XCLIENT " + attrs) }

// Quit sends QUIT, reads the reply and closes the connection.
func (c *Client) Quit() Reply {
	r := c.Cmd("QUIT")
	c.Close()
	return r
}

// Cmd sends one command line (without CRLF) and reads the reply.
func (c *Client) Cmd(line string) Reply {
	c.t.Helper()
	c.write(line + "\r\n")
	return c.ReadReply()
}

// Write sends raw bytes, for what the other methods do not do (pipelining,
// broken syntax, bare LF).
func (c *Client) Write(raw string) {
	c.t.Helper()
	c.write(raw)
}

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) write(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.Timeout))
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("postfixtest: SMTP write %q: %v", strings.TrimSpace(s), err)
	}
}

var enhancedRE = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)

// ReadReply reads one (possibly multi-line) reply.
func (c *Client) ReadReply() Reply {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(c.Timeout))
	var r Reply
	var texts []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("postfixtest: SMTP reply (so far %q): %v", r.Lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		r.Lines = append(r.Lines, line)
		code, err := strconv.Atoi(line[:min(3, len(line))])
		if err != nil || len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			c.t.Fatalf("postfixtest: malformed SMTP reply line %q", line)
		}
		if r.Code != 0 && code != r.Code {
			c.t.Fatalf("postfixtest: SMTP reply %q: codes differ", r.Lines)
		}
		r.Code = code
		text := ""
		if len(line) > 4 {
			text = line[4:]
		}
		if first, rest, _ := strings.Cut(text, " "); enhancedRE.MatchString(first) {
			r.Enhanced, text = first, rest
		} else {
			r.Enhanced = ""
		}
		texts = append(texts, text)
		if len(line) == 3 || line[3] == ' ' {
			break
		}
	}
	r.Text = strings.Join(texts, "\n")
	return r
}

// Expect fails the test unless r has the code and, when given, the
// enhanced code: c.Expect(c.Rcpt("x@y.test"), 250, "2.1.5").
func (c *Client) Expect(r Reply, code int, enhanced string) Reply {
	c.t.Helper()
	if r.Code != code || enhanced != "" && r.Enhanced != enhanced {
		want := strconv.Itoa(code)
		if enhanced != "" {
			want += " " + enhanced
		}
		c.t.Fatalf("postfixtest: got reply %q, want %s", r.String(), want)
	}
	return r
}

// QueueID returns the queue ID of a "250 2.0.0 Ok: queued as ID" reply, or
// "".
func (r Reply) QueueID() string {
	_, id, ok := strings.Cut(r.Text, "queued as ")
	if !ok {
		return ""
	}
	return strings.Fields(id + " ")[0]
}
