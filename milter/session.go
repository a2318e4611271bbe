package milter

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/dmarc/authres"
	"github.com/mxguard/mxguard/store"
)

// session is the backend of one milter connection, that is one SMTP
// connection of the MTA.
type session struct {
	s      *Server
	engine *pipeline.Engine
	env    *checks.Env
	// marks collected from the accepted recipients' outcomes, applied at
	// the end of the message.
	quarantine bool
	discard    bool
	tags       []string
	// early holds a verdict answered before RCPT without delayed
	// rejection; later commands of the transaction get it again.
	early *pipeline.Outcome
	// msg is the end-of-data authentication of the transaction (SPF,
	// DKIM, DMARC, Authentication-Results); nil without an auth config.
	msg  *dmarc.Message
	auth *dmarc.Config
}

var _ gomilter.Milter = (*session)(nil)

func newSession(s *Server) *session {
	return &session{s: s, engine: s.Engine(), env: checks.NewEnv(s.Resolver, s.Log)}
}

// guard turns a panic in a callback into a 451 for the transaction instead
// of a dropped connection.
func (ss *session) guard(stage string, resp *gomilter.Response) {
	if x := recover(); x != nil {
		ss.s.Log.Error("panic in milter callback", "stage", stage, "panic", x, "queue_id", ss.env.QueueID)
		*resp = replyResponse(checks.Reply{Code: 451, Enhanced: "4.3.0", Text: "Temporary failure in policy check, try again later"})
	}
}

func (ss *session) Connect(host, family string, port uint16, addr net.IP, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("connect", &resp)
	env := checks.NewEnv(ss.s.Resolver, ss.s.Log)
	ss.env = env
	ss.engine = ss.s.Engine()
	env.MTAHostname, env.Family, env.Port = host, family, port
	if a, ok := netip.AddrFromSlice(addr); ok && (family == "tcp4" || family == "tcp6") {
		env.Addr = a.Unmap()
	}
	env.MergeMacros(m.Macros)
	ss.engine.Prefetch(env, checks.StageConnect)
	return ss.answer(checks.StageConnect), nil
}

func (ss *session) Helo(name string, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("helo", &resp)
	ss.env.MergeMacros(m.Macros)
	ss.env.Helo, ss.env.HeloSeen = name, true
	ss.engine.Prefetch(ss.env, checks.StageHelo)
	return ss.answer(checks.StageHelo), nil
}

func (ss *session) MailFrom(from string, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("mail", &resp)
	// A new transaction: a reload since the last one takes effect now.
	ss.resetTransaction()
	ss.engine = ss.s.Engine()
	ss.env.MergeMacros(m.Macros)
	ss.env.Mail, ss.env.MailSeen = strings.TrimSpace(from), true
	ss.engine.Prefetch(ss.env, checks.StageMail)
	resp = ss.answer(checks.StageMail)
	if ss.s.Auth != nil && resp == gomilter.RespContinue {
		// SPF starts now, in the background; trusted and authenticated
		// clients are not evaluated as inbound mail, but forged
		// Authentication-Results headers are removed from their mail too.
		ss.auth = ss.s.Auth()
		if ss.auth != nil {
			bypass, _ := ss.engine.Bypassed(ss.env)
			ss.msg = ss.auth.Start(ss.s.Resolver, ss.env, !bypass)
		}
	}
	return resp, nil
}

func (ss *session) RcptTo(rcpt string, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("rcpt", &resp)
	ss.env.MergeMacros(m.Macros)
	ss.env.Rcpt = strings.TrimSpace(rcpt)
	resp = ss.answer(checks.StageRcpt)
	if resp == gomilter.RespContinue && ss.msg != nil && ss.auth.SPF.RejectAt == "rcpt" {
		resp = ss.spfAtRcpt()
	}
	if resp == gomilter.RespContinue {
		ss.env.Rcpts = append(ss.env.Rcpts, ss.env.Rcpt)
	}
	return resp, nil
}

func (ss *session) Header(name, value string, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("header", &resp)
	if ss.msg != nil {
		ss.msg.Header(name, value)
	}
	return gomilter.RespContinue, nil
}

func (ss *session) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("eoh", &resp)
	if ss.msg != nil {
		ss.msg.EndHeaders()
	}
	return gomilter.RespContinue, nil
}

func (ss *session) BodyChunk(chunk []byte, m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("body", &resp)
	if ss.msg != nil {
		ss.msg.Body(chunk)
	}
	return gomilter.RespContinue, nil
}

// spfAtRcpt rejects an SPF fail at RCPT TO (auth.spf.reject_at: rcpt), as
// policyd-spf does: cheaper, but no DKIM signature can save forwarded mail.
func (ss *session) spfAtRcpt() gomilter.Response {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mf, _, ok := ss.msg.SPF(ctx)
	if !ok {
		return gomilter.RespContinue
	}
	action, reply := ss.auth.SPFAction(mf)
	switch action {
	case "reject":
	case "tempfail":
		reply = reply.AsTemporary()
	default:
		return gomilter.RespContinue
	}
	env := ss.env
	ss.s.Log.Info("verdict", "queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
		"from", env.Mail, "rcpt", env.Rcpt, "stage", "rcpt", "check", "spf", "status", string(mf.Result),
		"action", action, "code", reply.Code, "enhanced", reply.Enhanced, "reason", mf.Reason, "reply", reply.Text)
	return replyResponse(reply)
}

// finishAuth runs the end-of-data authentication: removes forged
// Authentication-Results headers, adds ours at the top, and returns the
// verdict.
func (ss *session) finishAuth(m *gomilter.Modifier) (*dmarc.Verdict, error) {
	v := ss.msg.Finish(context.Background())
	// Delete from the last so that the indexes of the others hold.
	forged := ss.msg.Forged()
	for i := len(forged) - 1; i >= 0; i-- {
		if err := m.ChangeHeader(forged[i], authres.HeaderName, ""); err != nil {
			return nil, err
		}
	}
	if v.Header != "" {
		if err := m.InsertHeader(0, authres.HeaderName, v.Header); err != nil {
			return nil, err
		}
	}
	for _, t := range v.Tags {
		if err := m.AddHeader("X-Mxguard", t); err != nil {
			return nil, err
		}
	}
	if ss.s.OnAuth != nil {
		ss.s.OnAuth(v, len(forged))
	}
	if st, rec := ss.s.Store, v.Record; st != nil && rec != nil {
		// One small write (bbolt: one synced transaction), bounded: a
		// store problem is logged and never delays or changes the verdict.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := store.RecordDMARC(ctx, st, *rec); err != nil {
			ss.s.Log.Warn("dmarc record not stored", "queue_id", ss.env.QueueID, "err", err)
		}
		cancel()
	}
	return v, nil
}

// Body is the end of the message. Continue means accept to the MTA and,
// unlike Accept, keeps this session (see the package doc).
func (ss *session) Body(m *gomilter.Modifier) (resp gomilter.Response, err error) {
	defer ss.guard("eom", &resp)
	ss.env.MergeMacros(m.Macros)
	env := ss.env
	action := "accept"
	resp = gomilter.RespContinue
	var v *dmarc.Verdict
	if ss.msg != nil {
		if v, err = ss.finishAuth(m); err != nil {
			return nil, err
		}
		for _, r := range v.Results {
			ss.s.Log.Warn(r.Action, "queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
				"from", env.Mail, "stage", "eom", "check", r.Check, "action", r.Action,
				"code", r.Reply.Code, "enhanced", r.Reply.Enhanced, "reason", r.Reason)
		}
		switch v.Action {
		case "reject", "tempfail":
			ss.s.Log.Info("verdict", "queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
				"from", env.Mail, "rcpts", len(env.Rcpts), "stage", "eom", "check", v.Check, "action", v.Action,
				"code", v.Reply.Code, "enhanced", v.Reply.Enhanced, "reason", v.Reason, "reply", v.Reply.Text)
			ss.resetTransaction()
			return replyResponse(v.Reply), nil
		case "quarantine":
			ss.quarantine = true
		}
	}
	switch {
	case ss.discard:
		// Discard is final for go-milter: the next transaction on this
		// connection starts with a fresh session (logged as such).
		action, resp = "discard", gomilter.RespDiscard
	case ss.quarantine:
		action = "quarantine"
		reason := "held by mxguard policy"
		if v != nil && v.Action == "quarantine" {
			reason = v.Reason
		}
		if err := m.Quarantine(reason); err != nil {
			return nil, err
		}
	}
	for _, t := range ss.tags {
		if err := m.AddHeader("X-Mxguard", t); err != nil {
			return nil, err
		}
	}
	attrs := []any{"queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
		"from", env.Mail, "rcpts", len(env.Rcpts), "stage", "eom", "action", action}
	if v != nil && v.Auth != nil {
		if v.Auth.SPF != nil {
			attrs = append(attrs, "spf", v.Auth.SPF.Result)
		}
		if v.Auth.DMARC != nil {
			attrs = append(attrs, "dmarc", v.Auth.DMARC.Result)
		}
		attrs = append(attrs, "dkim", len(v.Auth.DKIM))
	}
	ss.s.Log.Info("message", attrs...)
	ss.resetTransaction()
	return resp, nil
}

func (ss *session) Abort(m *gomilter.Modifier) error {
	ss.resetTransaction()
	return nil
}

func (ss *session) resetTransaction() {
	if ss.msg != nil {
		ss.msg.Abort()
		ss.msg = nil
	}
	ss.env.ResetTransaction()
	ss.quarantine, ss.discard, ss.tags = false, false, nil
	ss.early = nil
}

// answer evaluates what is due at stage s and turns it into a response.
func (ss *session) answer(s checks.Stage) gomilter.Response {
	if ss.early != nil && s >= checks.StageMail {
		return replyResponse(ss.early.Reply)
	}
	ctx := context.Background()
	o := ss.engine.AtStage(ctx, ss.env, s)
	ss.logOutcome(o)
	if ss.s.OnVerdict != nil {
		ss.s.OnVerdict(o)
	}
	if o.Rejects() {
		if s < checks.StageRcpt && !ss.engine.DelayReject() && o.Check != "helo_required" {
			ss.early = o
		}
		return replyResponse(o.Reply)
	}
	ss.quarantine = ss.quarantine || o.Quarantine
	ss.discard = ss.discard || o.Discard
	ss.tags = append(ss.tags, o.Tags...)
	return gomilter.RespContinue
}

// replyResponse is SMFIR_REPLYCODE: "550 5.7.1 text". CR and LF in the text
// would break the reply and are replaced.
func replyResponse(r checks.Reply) gomilter.Response {
	text := strings.NewReplacer("\r", " ", "\n", " ").Replace(r.String())
	return gomilter.NewResponseStr(byte(gomilter.ActReplyCode), text)
}

func clientString(env *checks.Env) string {
	name := env.MTAHostname
	if name == "" || strings.HasPrefix(name, "[") {
		name = "unknown"
	}
	if !env.Addr.IsValid() {
		return name
	}
	return fmt.Sprintf("%s[%s]", name, env.Addr)
}

// logOutcome writes one mail-log line per verdict that refuses something or
// warns, and a debug line otherwise.
func (ss *session) logOutcome(o *pipeline.Outcome) {
	env := ss.env
	for _, r := range o.Results {
		if r.Decision == checks.Warn {
			ss.s.Log.Warn("warn", "queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
				"from", env.Mail, "rcpt", env.Rcpt, "stage", o.Stage.String(), "check", r.Check,
				"status", string(r.Status), "action", "warn", "code", r.Reply.Code, "enhanced", r.Reply.Enhanced,
				"reason", r.Reason, "reply", r.Reply.Text)
		}
	}
	attrs := []any{"queue_id", env.QueueID, "client", clientString(env), "helo", env.Helo,
		"from", env.Mail, "rcpt", env.Rcpt, "stage", o.Stage.String(), "check", o.Check,
		"status", string(o.Status), "action", o.Action}
	if o.Rejects() {
		attrs = append(attrs, "code", o.Reply.Code, "enhanced", o.Reply.Enhanced, "reason", o.Reason, "reply", o.Reply.Text)
		ss.s.Log.Info("verdict", attrs...)
		return
	}
	if o.Reason != "" {
		attrs = append(attrs, "reason", o.Reason)
	}
	ss.s.Log.Debug("verdict", attrs...)
}
