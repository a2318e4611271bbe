package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/access"
	"github.com/mxguard/mxguard/checks/rdns"
)

// tableCache opens each table once per engine build, so a table used in
// several restrictions is read once.
type tableCache struct {
	mu sync.Mutex
	m  map[string]*access.Table
}

func newTableCache() *tableCache { return &tableCache{m: map[string]*access.Table{}} }

func (c *tableCache) open(spec string) (*access.Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[spec]; ok {
		return t, nil
	}
	t, err := access.Open(spec)
	if err != nil {
		return nil, err
	}
	c.m[spec] = t
	return t, nil
}

// accessCheck is check_client_access, check_helo_access,
// check_sender_access and check_recipient_access.
type accessCheck struct {
	kind   string // client_access, helo_access, sender_access, recipient_access
	tables []*access.Table
	opts   access.Options
	log    func(msg string, args ...any)
}

var _ checks.Check = (*accessCheck)(nil)

func (b *builder) accessCheck(kind string, r Restriction) (*accessCheck, error) {
	specs := strings.FieldsFunc(r.Arg, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
	if len(specs) == 0 {
		return nil, fmt.Errorf("needs a table, e.g. %s: hash:/etc/postfix/%s", r.Name, kind)
	}
	c := &accessCheck{kind: kind, opts: access.Options{
		RecipientDelimiter: b.spec.RecipientDelimiter,
		RejectCode:         b.spec.Codes.AccessMapReject,
		DeferCode:          b.spec.Codes.AccessMapDefer,
	}, log: b.spec.Log.Warn}
	for _, s := range specs {
		t, err := b.tables.open(s)
		if err != nil {
			return nil, err
		}
		for _, w := range t.Warnings() {
			b.spec.Log.Warn("access table", "table", s, "warning", w)
		}
		c.tables = append(c.tables, t)
	}
	return c, nil
}

func (c *accessCheck) Name() string { return c.kind }

func (c *accessCheck) Stage() checks.Stage {
	switch c.kind {
	case "client_access":
		return checks.StageConnect
	case "helo_access":
		return checks.StageHelo
	case "sender_access":
		return checks.StageMail
	}
	return checks.StageRcpt
}

// Prefetch starts the client name lookups at connect for a client table:
// its keys include the verified client name.
func (c *accessCheck) Prefetch(env *checks.Env) {
	if c.kind == "client_access" {
		rdns.Prefetch(env)
	}
}

func (c *accessCheck) Check(ctx context.Context, env *checks.Env) checks.Result {
	res := checks.Result{Check: c.kind, Stage: c.Stage(), Status: checks.StatusDunno}
	var (
		ms               []access.Match
		replyName, class string
	)
	switch c.kind {
	case "client_access":
		info := rdns.Lookup(ctx, env)
		ms = c.opts.LookupClient(c.tables, info.Name, env.Addr)
		replyName, class = fmt.Sprintf("%s[%s]", info.Name, env.Addr), access.ClassClient
	case "helo_access":
		if !env.HeloSeen {
			res.Status, res.Reason = checks.StatusNone, "no HELO"
			return res
		}
		ms = c.opts.LookupDomain(c.tables, env.Helo)
		replyName, class = env.Helo, access.ClassHelo
	case "sender_access":
		if !env.MailSeen {
			res.Status = checks.StatusNone
			return res
		}
		ms = c.opts.LookupMail(c.tables, env.Mail)
		replyName, class = env.Mail, access.ClassSender
	default:
		if env.Rcpt == "" {
			res.Status = checks.StatusNone
			return res
		}
		ms = c.opts.LookupMail(c.tables, env.Rcpt)
		replyName, class = env.Rcpt, access.ClassRecipient
	}
	if len(ms) == 0 {
		res.Reason = "not found"
		return res
	}
	// Several tables in one restriction act as consecutive restrictions
	// (Postfix has one table per check_*_access): a DUNNO passes on to the
	// next table.
	var (
		m   access.Match
		r   access.Result
		err error
	)
	for _, m = range ms {
		r, err = c.opts.ParseResult(m.Value)
		if err != nil {
			c.log("access table result", "table", m.Table.Source(), "key", m.Key, "value", m.Value, "err", err)
		}
		if r.Kind != access.KindDunno {
			break
		}
	}
	res.Reason = fmt.Sprintf("%s: %s -> %s", m.Table.Source(), m.Key, m.Value)
	code, enh, text := r.Reply(replyName, class)
	reply := checks.Reply{Code: code, Enhanced: enh, Text: text}
	switch r.Kind {
	case access.KindOK:
		res.Status, res.Decision = checks.StatusOK, checks.Permit
	case access.KindReject, access.KindDefer, access.KindConfigError:
		res.Status, res.Decision, res.Reply = checks.StatusReject, checks.Reject, reply
	case access.KindDeferIfPermit:
		res.Status, res.Decision, res.Reply = checks.StatusReject, checks.DeferIfPermit, reply
	case access.KindDeferIfReject:
		res.Status, res.Decision, res.Reply = checks.StatusReject, checks.DeferIfReject, reply
	case access.KindWarn, access.KindInfo:
		res.Status, res.Decision = checks.StatusWarn, checks.Warn
		res.Reason += " (" + strings.ToLower(r.Kind.String()) + ")"
	case access.KindHold:
		res.Status, res.Decision = checks.StatusOK, checks.Quarantine
	case access.KindDiscard:
		// Postfix: DISCARD ends the restrictions like OK.
		res.Status, res.Decision = checks.StatusOK, checks.Discard
	case access.KindRestriction:
		res.Status = checks.StatusDunno
		res.Class = strings.Join(r.Words, " ")
		if len(r.Words) > 1 {
			res.Class = r.Words[0]
			res.Reason += " (only the first restriction of the result is used)"
		}
	default:
		if r.Kind.Unsupported() || r.Kind == access.KindPrepend {
			res.Reason += " (action not supported by mxguard: ignored)"
		}
	}
	return res
}
