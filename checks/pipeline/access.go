package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/access"
	"github.com/mxguard/mxguard/checks/rdns"
	"github.com/mxguard/mxguard/checks/syntax"
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
// check_sender_access and check_recipient_access with one table.
type accessCheck struct {
	kind  string // client_access, helo_access, sender_access, recipient_access
	table *access.Table
	opts  access.Options
	log   func(msg string, args ...any)
}

var _ checks.Check = (*accessCheck)(nil)

// accessChecks builds one check per table of the restriction's argument.
// Postfix's check_*_access takes one table; several tables in one
// mxguard restriction act as that many consecutive restrictions, so a
// result that Postfix treats as "go on" (DUNNO, WARN, INFO, HOLD, PREPEND,
// DEFER_IF_*, an unsupported FILTER, REDIRECT or BCC) takes effect, with
// its own Result in the log, and the next table is consulted.
func (b *builder) accessChecks(kind string, r Restriction) ([]*accessCheck, error) {
	specs, err := splitTableSpecs(r.Arg)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("needs a table, e.g. %s: hash:/etc/postfix/%s", r.Name, kind)
	}
	opts := access.Options{
		RecipientDelimiter: b.spec.RecipientDelimiter,
		RejectCode:         b.spec.Codes.AccessMapReject,
		DeferCode:          b.spec.Codes.AccessMapDefer,
	}
	var cs []*accessCheck
	for _, s := range specs {
		t, err := b.tables.open(s)
		if err != nil {
			return nil, err
		}
		for _, w := range t.Warnings() {
			b.spec.Log.Warn("access table", "table", s, "warning", w)
		}
		cs = append(cs, &accessCheck{kind: kind, table: t, opts: opts, log: b.spec.Log.Warn})
	}
	return cs, nil
}

// splitTableSpecs splits a restriction's table argument at commas and
// white space outside braces, as Postfix splits restriction lists
// (smtpd_check_parse: mystrtokq with CHARS_COMMA_SP and CHARS_BRACE), so
// that "static:{REJECT go away}" and "inline:{ a=b, c=d }" stay whole.
func splitTableSpecs(arg string) ([]string, error) {
	const seps = ", \t\r\n"
	var out []string
	for i := 0; i < len(arg); {
		if strings.IndexByte(seps, arg[i]) >= 0 {
			i++
			continue
		}
		start, depth := i, 0
		for ; i < len(arg) && (depth > 0 || strings.IndexByte(seps, arg[i]) < 0); i++ {
			switch arg[i] {
			case '{':
				depth++
			case '}':
				if depth == 0 {
					return nil, fmt.Errorf("unbalanced '}' in %q", arg)
				}
				depth--
			}
		}
		if depth > 0 {
			return nil, fmt.Errorf("unbalanced '{' in %q", arg)
		}
		out = append(out, arg[start:i])
	}
	return out, nil
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
	tables := []*access.Table{c.table}
	var (
		ms               []access.Match
		replyName, class string
	)
	switch c.kind {
	case "client_access":
		info := rdns.Lookup(ctx, env)
		ms = c.opts.LookupClient(tables, info.Name, env.Addr)
		replyName, class = namAddr(info.Name, env), access.ClassClient
	case "helo_access":
		if !env.HeloSeen {
			res.Status, res.Reason = checks.StatusNone, "no HELO"
			return res
		}
		ms = c.opts.LookupDomain(tables, env.Helo)
		replyName, class = env.Helo, access.ClassHelo
	case "sender_access":
		if !env.MailSeen {
			res.Status = checks.StatusNone
			return res
		}
		ms = c.opts.LookupMail(tables, env.Mail)
		replyName, class = internalAddr(env.Mail), access.ClassSender
	default:
		if env.Rcpt == "" {
			res.Status = checks.StatusNone
			return res
		}
		ms = c.opts.LookupMail(tables, env.Rcpt)
		replyName, class = internalAddr(env.Rcpt), access.ClassRecipient
	}
	if len(ms) == 0 {
		res.Reason = c.table.Source() + ": not found"
		return res
	}
	m := ms[0]
	r, err := c.opts.ParseResult(m.Value)
	if err != nil {
		c.log("access table result", "table", m.Table.Source(), "key", m.Key, "value", m.Value, "err", err)
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
		// Postfix: DISCARD is OK for the list and ends every later
		// restriction (the engine's Discard).
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

// replyName returns Postfix's reply_name and reply_class for a
// restriction evaluated in list l (smtpd_check.c: state->namaddr, the
// HELO name as sent, the sender or recipient in internal form).
func replyName(ctx context.Context, env *checks.Env, l List) (name, class string) {
	switch l {
	case ListClient:
		return namAddr(rdns.Lookup(ctx, env).Name, env), access.ClassClient
	case ListHelo:
		return env.Helo, access.ClassHelo
	case ListSender:
		return internalAddr(env.Mail), access.ClassSender
	}
	return internalAddr(env.Rcpt), access.ClassRecipient
}

// namAddr is Postfix's state->namaddr, "name[addr]": an IPv4-mapped IPv6
// client is shown as IPv4, as Postfix converts it first (smtpd_peer.c),
// and IPv6 has no "IPv6:" tag.
func namAddr(name string, env *checks.Env) string {
	if name == "" {
		name = "unknown"
	}
	addr := "unknown"
	if env.Addr.IsValid() {
		addr = env.Addr.Unmap().WithZone("").String()
	}
	return name + "[" + addr + "]"
}

// internalAddr is an envelope address as Postfix shows it in a reply: the
// internal form, unquoted and without source route (MAIL FROM:<"a b"@x>
// gives "a b@x", <@a,@b:u@x> gives "u@x"); the null sender is "", shown
// as "<>". An address that does not parse (Postfix would have refused it
// with 501 before any milter) is shown as received.
func internalAddr(raw string) string {
	a, err := syntax.ParseAddress(raw)
	if err != nil {
		return strings.TrimSpace(raw)
	}
	return a.String()
}
