package policy

import (
	"context"
	"fmt"

	"github.com/mxguard/mxguard/resolver"
)

// exists reports whether a normalized domain exists, for np= (RFC 9989
// §3.2.13 and Appendix A.4): a name exists when any record exists for it;
// NXDOMAIN means it and every name below it do not (RFC 8020), NODATA
// means it exists.
//
// What others do / what we do. Any one query answering NXDOMAIN proves
// non-existence by the RFC; RFC 5321's "resolvable" (an MX, A or AAAA)
// is explicitly not the test (Appendix A.4). We ask A first: an answer or
// NODATA proves existence in one query, the common case. Only on NXDOMAIN
// do we also ask AAAA and MX, and call the name non-existent only when
// both say NXDOMAIN too: np is usually stricter than sp, and a server
// that answers NXDOMAIN for some types only (RFC 8020 §4 mentions them)
// must not make a real domain's mail fall under it. A temporary failure
// of any of them is an error wrapping ErrDNS.
func (w *walker) exists(ctx context.Context, d string) (bool, error) {
	name := d + "."
	lookups := []struct {
		qtype string
		f     func() error
	}{
		{"A", func() error { _, err := w.r.LookupA(ctx, name); return err }},
		{"AAAA", func() error { _, err := w.r.LookupAAAA(ctx, name); return err }},
		{"MX", func() error { _, err := w.r.LookupMX(ctx, name); return err }},
	}
	for _, l := range lookups {
		w.queries++
		err := l.f()
		switch {
		case err == nil || resolver.IsNoData(err):
			return true, nil
		case resolver.IsNXDOMAIN(err):
			continue
		default:
			return false, fmt.Errorf("%w: existence of %s (%s): %w", ErrDNS, d, l.qtype, err)
		}
	}
	return false, nil
}
