package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// DMARCBucket is the log bucket that holds DMARC evaluation records.
const DMARCBucket = "dmarc"

// DMARCRecord is what the end-of-data stage remembers of one DMARC
// evaluation, so that aggregate reports can be built later: one row of an
// RFC 9990 ("DMARC Aggregate Reporting") report before rows are counted
// and grouped, the same shape as RFC 7489 Appendix C. JSON field names
// follow the report's XML element names where there is one.
type DMARCRecord struct {
	// Time is when the message was evaluated; it is also the record's
	// place in the log.
	Time time.Time `json:"time"`
	// SourceIP is the connecting client's address (row/source_ip).
	SourceIP string `json:"source_ip"`
	// HeaderFrom is the RFC 5322.From domain (identifiers/header_from).
	HeaderFrom string `json:"header_from"`
	// EnvelopeFrom is the RFC 5321.MailFrom domain, or the HELO domain for
	// the null sender (identifiers/envelope_from).
	EnvelopeFrom string `json:"envelope_from"`
	// EnvelopeTo is the recipient domain (identifiers/envelope_to).
	EnvelopeTo string `json:"envelope_to,omitempty"`
	// PolicyDomain is the domain whose DMARC policy record was used
	// (policy_published/domain).
	PolicyDomain string `json:"policy_domain"`
	// Policy and SubdomainPolicy are the published p= and sp= (none,
	// quarantine or reject).
	Policy          string `json:"p"`
	SubdomainPolicy string `json:"sp,omitempty"`
	// Disposition is the policy actually applied: none, quarantine or
	// reject (policy_evaluated/disposition).
	Disposition string `json:"disposition"`
	// DMARC is the DMARC result: pass, fail, none, temperror, permerror.
	DMARC string `json:"dmarc"`
	// DKIM holds every DKIM signature's result (auth_results/dkim),
	// uninterpreted with respect to DMARC.
	DKIM []DMARCDKIM `json:"dkim,omitempty"`
	// SPF is the SPF result (auth_results/spf).
	SPF DMARCSPF `json:"spf"`
	// SPFAligned and DKIMAligned are the DMARC-aligned results
	// (policy_evaluated/spf and /dkim: pass when true).
	SPFAligned  bool `json:"spf_aligned"`
	DKIMAligned bool `json:"dkim_aligned"`
	// Reason says why Disposition differs from the published policy
	// (policy_evaluated/reason/type), empty when it does not: RFC 9990
	// lists local_policy, mailing_list, other, policy_test_mode and
	// trusted_forwarder; RFC 7489 also had forwarded and sampled_out.
	Reason string `json:"reason,omitempty"`
	// ReasonComment is the reason's free-text comment
	// (policy_evaluated/reason/comment).
	ReasonComment string `json:"reason_comment,omitempty"`
}

// DMARCDKIM is one DKIM signature's result in a DMARCRecord.
type DMARCDKIM struct {
	Domain   string `json:"domain"`   // the signature's d=
	Selector string `json:"selector"` // the signature's s=
	Result   string `json:"result"`   // none, pass, fail, policy, neutral, temperror, permerror
}

// DMARCSPF is the SPF result in a DMARCRecord.
type DMARCSPF struct {
	Domain string `json:"domain"`          // the domain checked
	Scope  string `json:"scope,omitempty"` // mfrom or helo
	Result string `json:"result"`          // none, neutral, pass, fail, softfail, temperror, permerror
}

// RecordDMARC appends r, JSON-encoded, to the log bucket DMARCBucket at
// r.Time, which must be set.
func RecordDMARC(ctx context.Context, s Store, r DMARCRecord) error {
	if r.Time.IsZero() {
		return fmt.Errorf("%w: DMARC record without a time", ErrInvalid)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encoding DMARC record: %w", err)
	}
	return s.Append(ctx, DMARCBucket, r.Time, b)
}

// DMARCRecords returns the DMARC records with from <= Time < to, oldest
// first (see Store.Scan for the window). Each record's Time is the log's
// time, in UTC. A record that does not decode is an error naming its time.
func DMARCRecords(ctx context.Context, s Store, from, to time.Time) ([]DMARCRecord, error) {
	var recs []DMARCRecord
	err := s.Scan(ctx, DMARCBucket, from, to, func(at time.Time, value []byte) error {
		var r DMARCRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("store: DMARC record at %s: %w", at.Format(time.RFC3339Nano), err)
		}
		r.Time = at
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}
