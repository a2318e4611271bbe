package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/mxguard/mxguard/resolver"
)

// maxWalkQueries is the most names a DNS Tree Walk queries (RFC 9989
// §4.10): the domain, then at most 7 labels down to 1.
const maxWalkQueries = 8

// walkNames returns the names a DNS Tree Walk (RFC 9989 §4.10) queries
// for a normalized domain, in order: the domain itself (step 1); then
// (step 4) its parent, or, when it has 8 labels or more, its last 7
// labels; then one label less at a time (step 7) down to the top-level
// domain. Never more than maxWalkQueries names.
func walkNames(d string) []string {
	labels := strings.Split(d, ".")
	x := len(labels)
	names := make([]string, 0, min(x, maxWalkQueries))
	names = append(names, d)
	n := x - 1
	if x >= maxWalkQueries {
		n = maxWalkQueries - 1
	}
	for ; n >= 1; n-- {
		names = append(names, strings.Join(labels[x-n:], "."))
	}
	return names
}

// txtAt is what one _dmarc name holds.
type txtAt struct {
	n     int     // DMARC records (those starting with v=DMARC1)
	raw   string  // the record when n == 1
	rec   *Record // the lenient parse of raw
	probs []problem
	err   error // a lookup error other than NXDOMAIN/NODATA, wrapping ErrDNS
}

// single reports whether exactly one DMARC record is there: several are
// discarded (RFC 9989 §4.10 step 2).
func (t txtAt) single() bool { return t.err == nil && t.n == 1 }

// walker queries _dmarc names and remembers the answers for the length of
// one Discover or Evaluate call.
type walker struct {
	r       resolver.Resolver
	mode    Mode
	psl     SuffixList
	txt     map[string]txtAt
	orgs    map[string]string
	queries int
}

func newWalker(r resolver.Resolver, o Options) *walker {
	psl := o.PSL
	if psl == nil {
		psl = xnetList{}
	}
	return &walker{r: r, mode: o.Mode.effective(), psl: psl, txt: map[string]txtAt{}, orgs: map[string]string{}}
}

// at looks up _dmarc.<d> (d normalized). Temp vs perm is decided here:
// NXDOMAIN and NODATA are "no record"; every other error is ErrDNS, so
// it gives temperror, never fail.
func (w *walker) at(ctx context.Context, d string) txtAt {
	if t, ok := w.txt[d]; ok {
		return t
	}
	var t txtAt
	w.queries++
	txts, err := w.r.LookupTXT(ctx, "_dmarc."+d+".")
	switch {
	case err != nil && resolver.IsNotFound(err):
	case err != nil:
		t.err = fmt.Errorf("%w: %w", ErrDNS, err)
	default:
		for _, s := range txts {
			if !isDMARC(s) {
				continue // RFC 9989 §4.10 step 2, RFC 7489 §6.6.3 step 2
			}
			t.n++
			t.raw = s
		}
		if t.n == 1 {
			t.rec, t.probs, _ = parse(t.raw)
		}
	}
	w.txt[d] = t
	return t
}

// walk runs the DNS Tree Walk for d and returns the names with exactly one
// DMARC record, longest first. It stops after a record with psd=y or
// psd=n (step 2, 6), or at the first DNS error.
func (w *walker) walk(ctx context.Context, d string) (found []string, err error) {
	for _, name := range walkNames(d) {
		t := w.at(ctx, name)
		if t.err != nil {
			return found, t.err
		}
		if !t.single() {
			continue
		}
		found = append(found, name)
		if t.rec.PSD == "y" || t.rec.PSD == "n" {
			break
		}
	}
	return found, nil
}

// selectOrg picks the Organizational Domain of start from the names of
// its walk that have a record (RFC 9989 §4.10.2), longest first: a psd=n
// name; the name one label below a psd=y name other than start; else the
// name with the fewest labels; no record at all: start itself. The walk
// stops at the first psd=y or psd=n record, so only the last name can
// carry either.
func (w *walker) selectOrg(start string, found []string) string {
	if len(found) == 0 {
		return start
	}
	last := found[len(found)-1]
	rec := w.txt[last].rec
	if rec.PSD == "y" && last != start {
		return lastLabels(start, labelCount(last)+1)
	}
	return last // psd=n, or the fewest labels
}

// orgDomain returns the Organizational Domain of a normalized domain: by
// the tree walk in RFC 9989 mode; by the Public Suffix List in RFC 7489
// mode, where a public suffix stands for itself (RFC 7489 §3.2 leaves it
// undefined; OrgDomain reports ErrPublicSuffix for it).
func (w *walker) orgDomain(ctx context.Context, d string) (string, error) {
	if o, ok := w.orgs[d]; ok {
		return o, nil
	}
	var o string
	if w.mode == ModeRFC7489 {
		var err error
		o, err = w.psl.EffectiveTLDPlusOne(d)
		if err != nil {
			o = d
		}
	} else {
		found, err := w.walk(ctx, d)
		if err != nil {
			return "", err
		}
		o = w.selectOrg(d, found)
	}
	w.orgs[d] = o
	return o, nil
}
