package checks

import "fmt"

func fmtAny(v any) string { return fmt.Sprint(v) }

// Policy maps a check's Status to an action, per the configuration
// (DESIGN.md §2): Action for a fail or permerror, TempAction for a
// temperror. Code, Enhanced and Text, when set, replace the check's reply.
type Policy struct {
	Action     string // reject (default), tempfail, defer_if_permit, quarantine, tag, warn, accept, discard
	TempAction string // tempfail (default), defer_if_permit, warn, accept, reject is refused by config
	Code       int
	Enhanced   string
	Text       string
}

// Apply sets r.Decision (and r.Action, and the reply overrides) from the
// policy. A Result whose check already decided (access tables, permit_*)
// keeps its decision, except that a configured action other than reject
// softens a Reject: warn turns it into a log line (Postfix's
// warn_if_reject), accept ignores it.
func (p Policy) Apply(r Result) Result {
	r.Reply = p.override(r.Reply)
	if r.Decision != Dunno || r.Class != "" {
		if r.Decision == Reject && p.Action != "" && p.Action != "reject" {
			r = p.act(r, p.Action)
		} else {
			r.Action = r.Decision.String()
		}
		return r
	}
	switch r.Status {
	case StatusFail, StatusPermerror, StatusSoftfail:
		a := p.Action
		if a == "" {
			a = "reject"
		}
		return p.act(r, a)
	case StatusTemperror:
		a := p.TempAction
		if a == "" {
			a = "tempfail"
		}
		return p.act(r, a)
	}
	r.Action = "continue"
	return r
}

func (p Policy) act(r Result, action string) Result {
	r.Action = action
	switch action {
	case "reject":
		r.Decision = Reject
	case "tempfail":
		r.Decision = Reject
		r.Reply = r.Reply.AsTemporary()
	case "defer_if_permit":
		r.Decision = DeferIfPermit
		r.Reply = r.Reply.AsTemporary()
	case "quarantine":
		r.Decision = Quarantine
	case "tag":
		r.Decision = Tag
	case "discard":
		r.Decision = Discard
	case "warn":
		r.Decision = Warn
	default: // accept: no objection, the result is still logged
		r.Decision = Dunno
		r.Action = "accept"
	}
	return r
}

// override applies the configured code, enhanced code and text, then
// forces the enhanced code's class digit to the reply code's first digit,
// as Postfix's smtpd_check_reject does last (error_text[4] =
// error_text[0]): "550 4.5.6" is sent as "550 5.5.6", whichever of the two
// was configured.
func (p Policy) override(r Reply) Reply {
	if r.IsZero() {
		return r
	}
	if p.Code != 0 {
		r.Code = p.Code
	}
	if p.Enhanced != "" {
		r.Enhanced = p.Enhanced
	}
	if p.Text != "" {
		r.Text = p.Text
	}
	return r.WithCode(r.Code)
}
