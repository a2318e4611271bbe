package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/milter"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// checkJSON is the `check --json` contract (DESIGN.md §3).
type checkJSON struct {
	Action       string      `json:"action"`
	Stage        string      `json:"stage"`
	Code         int         `json:"code,omitempty"`
	Enhanced     string      `json:"enhanced,omitempty"`
	Text         string      `json:"text,omitempty"`
	Check        string      `json:"check,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	Checks       []checkItem `json:"checks"`
	Rcpts        []rcptItem  `json:"rcpts,omitempty"`
	Auth         *dmarc.Auth `json:"auth,omitempty"`
	HeadersAdded []string    `json:"headers_added,omitempty"`
}

type checkItem struct {
	Name   string  `json:"name"`
	Stage  string  `json:"stage"`
	Status string  `json:"status"`
	Action string  `json:"action"`
	Reason string  `json:"reason,omitempty"`
	Ms     float64 `json:"ms"`
}

type rcptItem struct {
	Rcpt     string `json:"rcpt"`
	Action   string `json:"action"`
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	Text     string `json:"text,omitempty"`
}

func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cpath   = fs.String("c", "", "configuration `file` (default: the embedded configuration)")
		ip      = fs.String("ip", "", "client IP `address` (required)")
		ptr     = fs.String("ptr", "", "client host `name` as the MTA reports it")
		helo    = fs.String("helo", "", "HELO/EHLO `name` (empty: no HELO)")
		from    = fs.String("from", "", "envelope sender `address` ('<>' or empty: the null sender)")
		msgFile = fs.String("message", "", "message `file` (.eml) for the end-of-data stage")
		auth    = fs.String("auth", "", "SASL `user` name: the client is authenticated")
		asJSON  = fs.Bool("json", false, "print one JSON object")
		record  = fs.Bool("record", false, "let stateful checks (greylisting) record this transaction")
		rcpts   multiFlag
	)
	fs.Var(&rcpts, "rcpt", "envelope recipient `address` (repeatable; default postmaster@ our hostname)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	_ = record // no stateful check records anything yet
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("check: unexpected argument %q", fs.Arg(0))}
	}
	addr, err := netip.ParseAddr(strings.Trim(*ip, "[]"))
	if err != nil {
		return &exitError{2, fmt.Errorf("check: --ip: want an IP address, got %q", *ip)}
	}
	cfg, err := loadConfig(*cpath)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, io.Discard)
	res, err := newResolver(cfg, logger, nil)
	if err != nil {
		return &exitError{2, err}
	}
	eng, err := newEngine(cfg, logger)
	if err != nil {
		return &exitError{2, err}
	}
	sender := strings.TrimSpace(*from)
	if sender == "<>" {
		sender = ""
	}
	sender = strings.TrimSuffix(strings.TrimPrefix(sender, "<"), ">")
	if len(rcpts) == 0 {
		rcpts = multiFlag{"postmaster@" + cfg.Hostname}
	}
	t := milter.Transaction{
		Addr: addr.Unmap(), Hostname: *ptr, Helo: *helo, From: sender, AuthUser: *auth,
		QueueID: "CHECK", Rcpts: rcpts,
	}
	if *msgFile != "" {
		data, err := os.ReadFile(*msgFile)
		if err != nil {
			return &exitError{2, fmt.Errorf("check: --message: %w", err)}
		}
		t.Header, t.Body, err = splitMessage(data)
		if err != nil {
			return &exitError{2, fmt.Errorf("check: --message %s: %w", *msgFile, err)}
		}
	} else {
		t.Header, t.Body = synthesize(sender, *helo)
	}
	authCfg := newAuth(cfg)
	srv := &milter.Server{Engine: func() *pipeline.Engine { return eng }, Auth: func() *dmarc.Config { return authCfg }, Resolver: res, Log: logger}
	rep, err := milter.Run(srv, t)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	out := summarize(rep)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	printText(stdout, out)
	return nil
}

// summarize turns the milter's replies into the transaction's outcome: the
// first refusal before RCPT decides; otherwise the transaction is refused
// when every recipient is, with the first recipient's reply.
func summarize(rep *milter.Report) *checkJSON {
	out := &checkJSON{Action: "continue", Stage: "eom", Checks: []checkItem{}, Auth: rep.Auth, HeadersAdded: rep.Headers}
	seen := map[string]bool{}
	for _, o := range rep.Outcomes {
		if o.Action == "accept" && out.Action == "continue" {
			out.Action, out.Reason = "accept", o.Reason
		}
		for _, r := range o.Results {
			it := checkItem{Name: r.Check, Stage: r.Stage.String(), Status: string(r.Status), Action: r.Action,
				Reason: r.Reason, Ms: float64(r.Duration.Microseconds()) / 1000}
			k := it.Name + "|" + it.Stage + "|" + it.Status + "|" + it.Action + "|" + it.Reason
			if !seen[k] {
				seen[k] = true
				out.Checks = append(out.Checks, it)
			}
		}
	}
	var firstRefusal *milter.StageReply
	accepted := 0
	for i := range rep.Replies {
		r := &rep.Replies[i]
		if r.Stage == checks.StageRcpt {
			it := rcptItem{Rcpt: r.Rcpt, Action: "continue"}
			if r.Code != 0 {
				it.Action = actionOf(r.Code)
				it.Code = r.Code
				it.Enhanced, it.Text = splitText(r.Text)
			} else {
				accepted++
			}
			out.Rcpts = append(out.Rcpts, it)
		}
		if r.Code != 0 && firstRefusal == nil {
			firstRefusal = r
		}
	}
	if firstRefusal != nil && (firstRefusal.Stage != checks.StageRcpt || accepted == 0) {
		out.Action = actionOf(firstRefusal.Code)
		out.Stage = firstRefusal.Stage.String()
		out.Code = firstRefusal.Code
		out.Enhanced, out.Text = splitText(firstRefusal.Text)
		if o := firstRefusal.Outcome; o != nil {
			out.Check, out.Reason = o.Check, o.Reason
		} else if v := rep.AuthVerdict; v != nil && firstRefusal.Stage == checks.StageEOM {
			out.Check, out.Reason = v.Check, v.Reason
		}
		return out
	}
	if v := rep.AuthVerdict; v != nil && (v.Action == "reject" || v.Action == "tempfail" || v.Action == "quarantine") {
		out.Action, out.Stage, out.Check, out.Reason = v.Action, "eom", v.Check, v.Reason
		if v.Action != "quarantine" {
			out.Code, out.Enhanced, out.Text = v.Reply.Code, v.Reply.Enhanced, v.Reply.Text
		}
		return out
	}
	switch {
	case rep.EOM == "discard":
		out.Action = "discard"
	case rep.Quarantine != "":
		out.Action, out.Reason = "quarantine", rep.Quarantine
	}
	return out
}

func actionOf(code int) string {
	if code >= 400 && code < 500 {
		return "tempfail"
	}
	return "reject"
}

// splitText splits "5.7.1 text" into the enhanced code and the text.
func splitText(s string) (string, string) {
	if i := strings.IndexByte(s, ' '); i > 0 {
		e := s[:i]
		if len(e) >= 5 && (e[0] == '4' || e[0] == '5' || e[0] == '2') && e[1] == '.' {
			return e, s[i+1:]
		}
	}
	return "", s
}

func printText(w io.Writer, o *checkJSON) {
	fmt.Fprintf(w, "action: %s (stage %s)\n", o.Action, o.Stage)
	if o.Code != 0 {
		fmt.Fprintf(w, "reply:  %d %s %s\n", o.Code, o.Enhanced, o.Text)
	}
	if o.Check != "" || o.Reason != "" {
		fmt.Fprintf(w, "check:  %s: %s\n", o.Check, o.Reason)
	}
	for _, r := range o.Rcpts {
		if r.Code != 0 {
			fmt.Fprintf(w, "rcpt %s: %s %d %s %s\n", r.Rcpt, r.Action, r.Code, r.Enhanced, r.Text)
		} else {
			fmt.Fprintf(w, "rcpt %s: %s\n", r.Rcpt, r.Action)
		}
	}
	for _, c := range o.Checks {
		fmt.Fprintf(w, "  %-8s %-34s %-10s %-16s %7.1fms  %s\n", c.Stage, c.Name, c.Status, c.Action, c.Ms, c.Reason)
	}
}

// splitMessage splits an RFC 5322 message into header fields (unfolded
// names, raw values) and body. Bare LF line endings are accepted.
func splitMessage(data []byte) ([][2]string, []byte, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var fields [][2]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		n += len(line) + 1
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return nil, nil, errors.New("message starts with a continuation line")
			}
			fields[len(fields)-1][1] += "\n" + line
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return nil, nil, fmt.Errorf("header line without a colon: %q", truncate(line, 60))
		}
		fields = append(fields, [2]string{line[:i], strings.TrimPrefix(line[i+1:], " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if n > len(data) {
		n = len(data)
	}
	body := bytes.ReplaceAll(data[n:], []byte("\n"), []byte("\r\n"))
	return fields, body, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// synthesize makes the minimal message DESIGN.md §3 describes.
func synthesize(sender, helo string) ([][2]string, []byte) {
	from := sender
	if from == "" {
		h := helo
		if h == "" {
			h = "localhost"
		}
		from = "postmaster@" + strings.Trim(h, "[]")
	}
	now := time.Now()
	return [][2]string{
		{"From", "<" + from + ">"},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", fmt.Sprintf("<%d.check@mxguard>", now.UnixNano())},
		{"Subject", "mxguard check"},
	}, nil
}
