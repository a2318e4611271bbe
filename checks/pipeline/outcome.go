package pipeline

import (
	"github.com/mxguard/mxguard/checks"
)

// Outcome is the verdict of one evaluation (one stage, or one recipient
// with delayed rejection).
type Outcome struct {
	// Action is the transaction's outcome in DESIGN.md words: accept
	// (trusted or authenticated client: nothing was checked), continue (no
	// objection), reject, tempfail, quarantine, discard.
	Action string
	// Reply is set for reject and tempfail.
	Reply checks.Reply
	// Stage is where the verdict is answered.
	Stage checks.Stage
	// Check and Reason name the restriction that decided and why.
	Check  string
	Status checks.Status
	Reason string
	// Results are all restrictions evaluated, in order.
	Results []checks.Result
	// Marks set by restrictions that let the message go on: HOLD, DISCARD,
	// tag. They take effect at the end of the message.
	Quarantine bool
	Discard    bool
	Tags       []string
}

// Rejects reports whether the outcome refuses the command.
func (o *Outcome) Rejects() bool { return o.Action == "reject" || o.Action == "tempfail" }

func (o *Outcome) setReply(r checks.Result, reply checks.Reply) {
	o.Reply = reply
	o.Check = r.Check
	o.Status = r.Status
	o.Reason = r.Reason
	if reply.Temporary() {
		o.Action = "tempfail"
	} else {
		o.Action = "reject"
	}
}
