// Package dmarc is mxguard's end-of-data authentication: SPF (RFC 7208,
// started at MAIL FROM), DKIM (RFC 6376, streamed while the message
// arrives), DMARC (RFC 9989 by default, RFC 7489 as an option) at the end
// of data, the Authentication-Results header (RFC 8601) with every forged
// one removed, and the disposition mapped to an action by configuration.
//
// mxguard computes every result itself and trusts no header it did not
// write: chaining separate filters through headers is what produced
// CVE-2019-20790 and CVE-2020-12272.
package dmarc

import (
	"context"
	"fmt"
	"net/mail"
	"net/netip"
	"strings"
	"time"

	"github.com/mxguard/mxguard/checks"
	"github.com/mxguard/mxguard/checks/rdns"
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/dmarc/authres"
	"github.com/mxguard/mxguard/dmarc/dkim"
	"github.com/mxguard/mxguard/dmarc/policy"
	"github.com/mxguard/mxguard/dmarc/spf"
	"github.com/mxguard/mxguard/resolver"
	"github.com/mxguard/mxguard/store"
)

// Config is the auth: section of the configuration.
type Config struct {
	AuthservID string   // our id; the host name by default
	Aliases    []string // more ids whose headers are removed too
	Receiver   string   // our host name, for SPF's %{r}

	// SPF maps each SPF result of the MAIL FROM identity to an action
	// (auth.spf), and says where a rejection is answered.
	SPF   config.SPF
	DKIM  dkim.Options
	DMARC struct {
		Mode                                           policy.Mode
		Reject, Quarantine, None, Temperror, Permerror string // actions per disposition/status
		RejectMultipleFrom                             bool
		OverrideDomains                                []string
		OverrideNetworks                               []netip.Prefix
	}
	// Timeout bounds the end-of-data work.
	Timeout time.Duration
}

// Auth is the auth object of `check --json` (DESIGN.md §3).
type Auth struct {
	SPF     *SPFJSON   `json:"spf,omitempty"`
	HeloSPF *SPFJSON   `json:"helo_spf,omitempty"`
	DKIM    []DKIMJSON `json:"dkim,omitempty"`
	DMARC   *DMARCJSON `json:"dmarc,omitempty"`
	IPRev   *IPRevJSON `json:"iprev,omitempty"`
}

type SPFJSON struct {
	Result      string `json:"result"`
	Domain      string `json:"domain,omitempty"`
	Identity    string `json:"identity,omitempty"`
	Explanation string `json:"explanation,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

type DKIMJSON struct {
	Result    string `json:"result"`
	Domain    string `json:"domain,omitempty"`
	Selector  string `json:"selector,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type DMARCJSON struct {
	Result      string `json:"result"`
	Domain      string `json:"domain,omitempty"`
	Policy      string `json:"policy,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

type IPRevJSON struct {
	Result string `json:"result"`
	Name   string `json:"name,omitempty"`
}

// Message is the authentication state of one transaction.
type Message struct {
	cfg *Config
	r   resolver.Resolver
	env *checks.Env

	evaluate bool // false for trusted and authenticated clients: only forged headers are removed

	spfDone          chan struct{}
	spfMail, spfHelo spf.Outcome

	dkim      *dkim.Verifier
	froms     []string // From header values
	arIndex   int      // Authentication-Results headers seen so far
	forged    []int    // their 1-based indexes that claim our id
	headerErr error
}

// Start begins a transaction at MAIL FROM: SPF starts at once, in the
// background, so its DNS work overlaps the rest of the transaction.
// evaluate is false for trusted and authenticated clients.
func (c *Config) Start(r resolver.Resolver, env *checks.Env, evaluate bool) *Message {
	m := &Message{cfg: c, r: r, env: env, evaluate: evaluate, spfDone: make(chan struct{})}
	if !evaluate || !env.Addr.IsValid() {
		close(m.spfDone)
		return m
	}
	helo, from := env.Helo, env.Mail
	addr := env.Addr
	go func() {
		defer close(m.spfDone)
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
		defer cancel()
		m.spfMail, m.spfHelo = spf.Verify(ctx, r, addr, helo, from, spf.Options{Receiver: c.Receiver})
	}()
	return m
}

func (c *Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 20 * time.Second
}

// SPF waits for the MAIL FROM and HELO results.
func (m *Message) SPF(ctx context.Context) (mailfrom, helo spf.Outcome, ok bool) {
	select {
	case <-m.spfDone:
		return m.spfMail, m.spfHelo, m.evaluate && m.env.Addr.IsValid()
	case <-ctx.Done():
		return spf.Outcome{Result: spf.Result("temperror"), Reason: "SPF did not finish in time"}, spf.Outcome{}, true
	}
}

// IDs are the authserv-ids whose headers are removed.
func (c *Config) IDs() []string {
	return append([]string{c.AuthservID}, c.Aliases...)
}

// Header sees one header field, in order.
func (m *Message) Header(name, value string) {
	if strings.EqualFold(name, authres.HeaderName) {
		m.arIndex++
		if authres.Claims(value, m.cfg.IDs()) {
			m.forged = append(m.forged, m.arIndex)
		}
	}
	if !m.evaluate {
		return
	}
	if strings.EqualFold(name, "From") {
		m.froms = append(m.froms, value)
	}
	if m.dkim == nil {
		m.dkim = dkim.NewVerifier(context.Background(), m.r, m.cfg.DKIM)
	}
	if err := m.dkim.Header(name, value); err != nil && m.headerErr == nil {
		m.headerErr = err
	}
}

// EndHeaders marks the end of the header.
func (m *Message) EndHeaders() {
	if m.dkim != nil {
		m.dkim.EndHeaders()
	}
}

// Body streams a body chunk to the DKIM verifier.
func (m *Message) Body(chunk []byte) {
	if m.dkim != nil {
		m.dkim.Body(chunk)
	}
}

// Abort frees what the transaction holds.
func (m *Message) Abort() {
	if m.dkim != nil {
		m.dkim.Abort()
	}
}

// Forged returns the 1-based indexes, among the Authentication-Results
// fields, of those that claim our authserv-id.
func (m *Message) Forged() []int { return m.forged }

// Verdict is the end-of-data outcome.
type Verdict struct {
	Action  string // continue, reject, tempfail, quarantine, tag, warn
	Reply   checks.Reply
	Check   string // spf, dmarc, from
	Reason  string
	Header  string // our Authentication-Results value; "" when not evaluated
	Auth    *Auth
	Results []checks.Result // warn and tag results, for the log
	Tags    []string        // X-Mxguard header values
	// Record is the evaluation in the shape of an aggregate report row
	// (RFC 9990), when DMARC ran.
	Record *store.DMARCRecord
}

// Finish evaluates SPF, DKIM and DMARC and decides.
func (m *Message) Finish(ctx context.Context) *Verdict {
	v := &Verdict{Action: "continue"}
	if !m.evaluate {
		return v
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.timeout())
	defer cancel()
	auth := &Auth{}
	v.Auth = auth
	var ar []authres.Result

	// iprev (RFC 8601 §3): the client name lookup done for the early checks.
	if m.env.Addr.IsValid() {
		info := rdns.Lookup(ctx, m.env)
		st := string(info.Forward)
		if st == "" || st == "none" {
			st = "none"
		}
		auth.IPRev = &IPRevJSON{Result: st, Name: info.PTR}
		r := authres.Result{Method: "iprev", Result: st, Props: []authres.Prop{authres.P("policy", "iprev", m.env.Addr.String())}}
		if info.PTR != "" {
			r.Comment = info.PTR
		}
		ar = append(ar, r)
	}

	sm, sh, spfRan := m.SPF(ctx)
	if spfRan {
		auth.SPF = spfJSON(sm)
		auth.HeloSPF = spfJSON(sh)
		ar = append(ar, authres.Result{Method: "spf", Result: string(sm.Result), Props: []authres.Prop{
			authres.P("smtp", "mailfrom", sm.Sender), authres.P("smtp", "helo", m.env.Helo)}})
	}

	var dres []dkim.Result
	if m.dkim != nil {
		dres, _ = m.dkim.Close()
		m.dkim = nil
	}
	for _, d := range dres {
		auth.DKIM = append(auth.DKIM, DKIMJSON{Result: d.Status, Domain: d.Domain, Selector: d.Selector, Algorithm: d.Algorithm, Reason: d.Reason})
		ar = append(ar, authres.Result{Method: "dkim", Result: d.Status, Props: []authres.Prop{
			authres.P("header", "d", d.Domain), authres.P("header", "i", d.Identifier), authres.P("header", "s", d.Selector), authres.P("header", "a", d.Algorithm), authres.P("header", "b", d.BPrefix)}})
	}
	if len(dres) == 0 {
		ar = append(ar, authres.Result{Method: "dkim", Result: "none"})
	}

	// RFC 5322 §3.6: exactly one From field with one address.
	fromDomain, fromErr := m.fromDomain()
	if fromErr != nil {
		auth.DMARC = &DMARCJSON{Result: "permerror", Reason: fromErr.Error()}
		ar = append(ar, authres.Result{Method: "dmarc", Result: "permerror", Reason: fromErr.Error()})
		v.Header = authres.Format(m.cfg.AuthservID, ar)
		if m.cfg.DMARC.RejectMultipleFrom {
			v.Action, v.Check, v.Reason = "reject", "from", fromErr.Error()
			v.Reply = checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "Message must have exactly one From address (RFC 5322)"}
		}
		return v
	}

	in := policy.Input{FromDomain: fromDomain}
	if spfRan {
		in.SPF.Result, in.SPF.Domain = string(sm.Result), sm.Domain
	}
	for _, d := range dres {
		in.DKIM = append(in.DKIM, struct{ Result, Domain string }{d.Status, d.Domain})
	}
	pr := policy.Evaluate(ctx, m.r, in, policy.Options{Mode: m.cfg.DMARC.Mode})
	auth.DMARC = &DMARCJSON{Result: pr.Status, Domain: fromDomain, Policy: pr.Policy, Disposition: pr.Disposition, Reason: pr.Reason}
	dr := authres.Result{Method: "dmarc", Result: pr.Status, Props: []authres.Prop{authres.P("header", "from", fromDomain)}}
	if pr.Policy != "" {
		dr.Props = append(dr.Props, authres.P("policy", "dmarc", pr.Policy))
	}
	ar = append(ar, dr)
	v.Header = authres.Format(m.cfg.AuthservID, ar)

	m.decide(v, sm, spfRan, pr, fromDomain)
	v.Record = m.record(sm, dres, pr, fromDomain, v)
	return v
}

// record is the evaluation as an aggregate-report row.
func (m *Message) record(sm spf.Outcome, dres []dkim.Result, pr policy.Result, fromDomain string, v *Verdict) *store.DMARCRecord {
	r := &store.DMARCRecord{
		Time: time.Now().UTC(), HeaderFrom: fromDomain, PolicyDomain: pr.PolicyDomain, Policy: pr.Policy,
		Disposition: pr.Disposition, DMARC: pr.Status, SPFAligned: pr.SPFAligned, DKIMAligned: pr.DKIMAligned,
		SPF: store.DMARCSPF{Domain: sm.Domain, Scope: "mfrom", Result: string(sm.Result)},
	}
	if m.env.Addr.IsValid() {
		r.SourceIP = m.env.Addr.String()
	}
	if i := strings.LastIndexByte(m.env.Mail, '@'); i >= 0 {
		r.EnvelopeFrom = strings.ToLower(m.env.Mail[i+1:])
	}
	if len(m.env.Rcpts) > 0 {
		if i := strings.LastIndexByte(m.env.Rcpts[0], '@'); i >= 0 {
			r.EnvelopeTo = strings.ToLower(m.env.Rcpts[0][i+1:])
		}
	}
	if pr.Record != nil {
		r.SubdomainPolicy = pr.Record.SubdomainPolicy
	}
	for _, d := range dres {
		r.DKIM = append(r.DKIM, store.DMARCDKIM{Domain: d.Domain, Selector: d.Selector, Result: d.Status})
	}
	switch {
	case strings.HasPrefix(v.Reason, "DMARC fail accepted"):
		r.Reason = "local_policy"
		if r.Disposition != "none" {
			r.Disposition = "none"
		}
	case pr.Testing && pr.Status == "fail":
		r.Reason = "policy_test_mode"
	case pr.SampledOut:
		r.Reason = "sampled_out"
	}
	return r
}

func spfJSON(o spf.Outcome) *SPFJSON {
	if o.Result == "" {
		return nil
	}
	return &SPFJSON{Result: string(o.Result), Domain: o.Domain, Identity: string(o.Identity), Explanation: o.Explanation, Reason: o.Reason}
}

// fromDomain returns the domain of the single From address.
func (m *Message) fromDomain() (string, error) {
	switch len(m.froms) {
	case 0:
		return "", fmt.Errorf("no From header")
	case 1:
	default:
		return "", fmt.Errorf("%d From headers", len(m.froms))
	}
	addrs, err := mail.ParseAddressList(m.froms[0])
	if err != nil {
		// Fall back to the last @ of the field: a sloppy From must not
		// escape DMARC.
		v := m.froms[0]
		if i := strings.LastIndexByte(v, '@'); i >= 0 {
			d := strings.TrimRight(strings.TrimSpace(v[i+1:]), ">) \t\r\n")
			if d != "" && !strings.ContainsAny(d, " ,<>") {
				return strings.ToLower(strings.TrimSuffix(d, ".")), nil
			}
		}
		return "", fmt.Errorf("unparsable From header: %v", err)
	}
	if len(addrs) != 1 {
		return "", fmt.Errorf("the From header has %d addresses", len(addrs))
	}
	a := addrs[0].Address
	i := strings.LastIndexByte(a, '@')
	if i < 0 || i == len(a)-1 {
		return "", fmt.Errorf("the From address has no domain")
	}
	return strings.ToLower(strings.TrimSuffix(a[i+1:], ".")), nil
}

// decide maps the results to an action, DMARC first: an aligned pass saves
// an SPF fail (forwarded mail), a DMARC reject wins over everything.
func (m *Message) decide(v *Verdict, sm spf.Outcome, spfRan bool, pr policy.Result, fromDomain string) {
	d := m.cfg.DMARC
	override := m.overridden()
	switch {
	case pr.Status == "temperror":
		m.apply(v, d.Temperror, "dmarc", "DMARC lookup failed temporarily: "+pr.Reason,
			checks.Reply{Code: 451, Enhanced: "4.4.3", Text: "Temporary DNS failure during DMARC evaluation, try again later"})
	case pr.Status == "fail" && override != "":
		v.Reason = "DMARC fail accepted: " + override
	case pr.Status == "fail" && pr.Disposition == "reject":
		m.apply(v, d.Reject, "dmarc", "DMARC policy of "+pr.PolicyDomain+" is reject",
			checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "Email rejected per DMARC policy for " + fromDomain})
	case pr.Status == "fail" && pr.Disposition == "quarantine":
		m.apply(v, d.Quarantine, "dmarc", "DMARC policy of "+pr.PolicyDomain+" is quarantine",
			checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "Email rejected per DMARC policy for " + fromDomain})
	case pr.Status == "fail" && (pr.Disposition == "none" || pr.Disposition == ""):
		m.apply(v, d.None, "dmarc", "DMARC fail, policy of "+pr.PolicyDomain+" is none",
			checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "Email rejected per DMARC policy for " + fromDomain})
	case pr.Status == "permerror":
		m.apply(v, d.Permerror, "dmarc", "DMARC record error: "+pr.Reason,
			checks.Reply{Code: 550, Enhanced: "5.7.1", Text: "DMARC policy error for " + fromDomain})
	}
	if v.Action == "reject" || v.Action == "tempfail" {
		return
	}
	// SPF is enforced at the end of data unless DMARC passed (an aligned
	// DKIM signature proves the message; SPF fails on forwarded mail).
	if !spfRan || pr.Status == "pass" || m.cfg.SPF.RejectAt == "rcpt" {
		return
	}
	m.applySPF(v, sm)
}

// SPFAction is the configured action for an SPF result, and the reply.
func (c *Config) SPFAction(o spf.Outcome) (string, checks.Reply) {
	reply := checks.Reply{Code: 550, Enhanced: "5.7.23", Text: "SPF validation failed"}
	switch o.Result {
	case "fail":
		if o.Explanation != "" {
			reply.Text = o.Explanation
		} else if o.Domain != "" {
			reply.Text = "SPF validation failed for " + o.Domain
		}
	case "temperror":
		reply = checks.Reply{Code: 451, Enhanced: "4.4.3", Text: "Temporary DNS failure during SPF validation, try again later"}
	case "permerror":
		reply = checks.Reply{Code: 550, Enhanced: "5.7.24", Text: "SPF record error for " + o.Domain}
	}
	return c.SPF.Action(string(o.Result)), reply
}

func (m *Message) applySPF(v *Verdict, o spf.Outcome) {
	a, reply := m.cfg.SPFAction(o)
	m.apply(v, a, "spf", "SPF "+string(o.Result)+" for "+o.Domain, reply)
}

// apply sets the verdict from an action word. warn and tag are recorded
// (a log line, a header) and change nothing else; otherwise the most
// severe action wins.
func (m *Message) apply(v *Verdict, action, check, reason string, reply checks.Reply) {
	switch action {
	case "", "off", "accept", "continue":
		return
	case "warn", "tag":
		v.Results = append(v.Results, checks.Result{Check: check, Action: action, Reason: reason, Reply: reply,
			Decision: map[string]checks.Decision{"warn": checks.Warn, "tag": checks.Tag}[action]})
		if action == "tag" {
			v.Tags = append(v.Tags, check+": "+reason)
		}
		return
	case "tempfail":
		reply = reply.AsTemporary()
	}
	rank := map[string]int{"continue": 0, "quarantine": 1, "tempfail": 2, "reject": 3}
	if rank[action] > rank[v.Action] {
		v.Action, v.Check, v.Reason, v.Reply = action, check, reason, reply
	}
}

// overridden says why DMARC is not enforced for this client, or "".
func (m *Message) overridden() string {
	d := m.cfg.DMARC
	if m.env.Addr.IsValid() {
		for _, p := range d.OverrideNetworks {
			if p.Contains(m.env.Addr) {
				return "client in dmarc.override_networks " + p.String()
			}
		}
	}
	var names []string
	if i := strings.LastIndexByte(m.env.Mail, '@'); i >= 0 {
		names = append(names, strings.ToLower(m.env.Mail[i+1:]))
	}
	if m.env.Addr.IsValid() {
		if info := rdns.Lookup(context.Background(), m.env); info.Name != "unknown" && info.Name != "" {
			names = append(names, info.Name)
		}
	}
	for _, n := range names {
		for _, o := range d.OverrideDomains {
			o = strings.ToLower(strings.TrimSuffix(o, "."))
			if n == o || strings.HasSuffix(n, "."+o) {
				return "forwarder " + n + " in dmarc.override_domains"
			}
		}
	}
	return ""
}
