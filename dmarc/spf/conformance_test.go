package spf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mxguard/mxguard/internal/dnstest"
	"github.com/mxguard/mxguard/resolver"
)

// The OpenSPF suites (testdata/conformance/spf/README.md) run as data:
// each scenario's zonedata becomes a zone served by a real DNS server on
// loopback (internal/dnstest), asked through the real resolver.Client, so
// the wire (escaping of odd names, TXT strings, timeouts) is part of the
// test. Every test of a scenario runs in parallel with its own Client
// (cache off).
//
// Run a single test (from both suites) with -spf_single=<name>, e.g.
//
//	go test ./dmarc/spf -run 'RFC' -spf_single=mx-limit -v

var spfSingle = flag.String("spf_single", "", "run only the SPF conformance test with this name")

const suiteDir = "../../testdata/conformance/spf/"

// suiteTimeout is the resolver's per-query timeout in the suites: the
// TIMEOUT tests wait for it, and a loopback answer must never miss it,
// even under -race on a busy machine (500ms once did).
const suiteTimeout = time.Second

func TestRFC7208(t *testing.T) { testSuite(t, "rfc7208-tests.yml", 203) }
func TestRFC4408(t *testing.T) { testSuite(t, "rfc4408-tests.yml", 191) }

// scenario is one YAML document of a suite.
type scenario struct {
	Description string               `yaml:"description"`
	Tests       map[string]suiteTest `yaml:"tests"`
	ZoneData    map[string]yaml.Node `yaml:"zonedata"`
}

type suiteTest struct {
	Helo        string      `yaml:"helo"`
	Host        string      `yaml:"host"`
	MailFrom    string      `yaml:"mailfrom"`
	Result      stringOrSeq `yaml:"result"`
	Explanation *string     `yaml:"explanation"`
}

// stringOrSeq is a scalar or a sequence of scalars.
type stringOrSeq []string

func (s *stringOrSeq) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = []string{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

func loadSuite(t *testing.T, file string) []scenario {
	t.Helper()
	f, err := os.Open(suiteDir + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []scenario
	dec := yaml.NewDecoder(f)
	for {
		var s scenario
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, s)
	}
}

func testSuite(t *testing.T, file string, want int) {
	r := txtProbe(t)
	var total, passed atomic.Int64
	for _, sc := range loadSuite(t, file) {
		t.Run(sc.Description, func(t *testing.T) {
			names := slices.Sorted(func(yield func(string) bool) {
				for n := range sc.Tests {
					if *spfSingle == "" || *spfSingle == n {
						if !yield(n) {
							return
						}
					}
				}
			})
			if len(names) == 0 {
				return
			}
			zone, err := zoneText(sc.ZoneData)
			if err != nil {
				t.Fatal(err)
			}
			srv := dnstest.Start(t, dnstest.WithZone(zone))
			for _, name := range names {
				tc := sc.Tests[name]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					total.Add(1)
					if runSuiteTest(t, r(srv.Addr()), tc) {
						passed.Add(1)
					} else {
						t.Logf("zone:\n%s", zone)
					}
				})
			}
		})
	}
	t.Logf("%s: %d of %d tests pass", file, passed.Load(), total.Load())
	if *spfSingle == "" && (total.Load() != int64(want) || passed.Load() != total.Load()) {
		t.Errorf("%s: %d of %d tests pass, want %d of %d", file, passed.Load(), total.Load(), want, want)
	}
}

func runSuiteTest(t *testing.T, r resolver.Resolver, tc suiteTest) bool {
	t.Helper()
	ip, err := netip.ParseAddr(tc.Host)
	if err != nil {
		t.Errorf("host %q: %v", tc.Host, err)
		return false
	}
	opts := Options{Receiver: "receiver.example", Now: func() time.Time { return time.Unix(1700000000, 0) }}
	out, _ := Verify(context.Background(), r, ip, tc.Helo, tc.MailFrom, opts)
	ok := true
	if !slices.Contains(tc.Result, string(out.Result)) {
		t.Errorf("result %s, want %v", out.Result, []string(tc.Result))
		ok = false
	}
	if tc.Explanation != nil {
		// The reference driver sets its default explanation to
		// "DEFAULT": ours is no explanation.
		want := *tc.Explanation
		if want == "DEFAULT" {
			want = ""
		}
		switch {
		case out.Explanation == want:
		case strings.EqualFold(out.Explanation, want):
			// Only v-macro-ip6: pyspf writes %{i} nibbles in upper
			// case, RFC 7208 §7.4 in lower case (see the package doc).
			t.Logf("explanation %q differs from %q in case only", out.Explanation, want)
		default:
			t.Errorf("explanation %q, want %q", out.Explanation, want)
			ok = false
		}
	}
	if !ok {
		t.Logf("helo %q host %s mailfrom %q: %+v", tc.Helo, tc.Host, tc.MailFrom, out)
	}
	return ok
}

// txtProbe returns a constructor of the Client the suites use. The
// Resolver contract is that LookupTXT returns the record's octets, but
// resolver.Client (as of this writing) returns miekg/dns's presentation
// format, where `"`, `\` and octets outside printable ASCII are escaped
// (`\"`, `\\`, `\150`). Two tests per suite depend on those octets
// (non-ascii-policy, non-ascii-exp). The probe asks for such a record
// once: if the octets come back escaped, the suites undo the escaping
// around the Client, and say so in the log; once the Client is fixed, the
// probe finds raw octets and the wrapper goes away by itself.
func txtProbe(t *testing.T) func(addr string) resolver.Resolver {
	t.Helper()
	probeOnce.Do(func() {
		want := "v=spf1 \x96\"\\"
		srv, err := dnstest.New("127.0.0.1:0", dnstest.WithZone("$ORIGIN .\nprobe.test. TXT \"v=spf1 \\150\\\"\\\\\"\n"))
		if err == nil {
			err = srv.Start()
		}
		if err != nil {
			probeErr = err
			return
		}
		defer srv.Close()
		c, err := newSuiteClient(srv.Addr())
		if err != nil {
			probeErr = err
			return
		}
		txts, err := c.LookupTXT(context.Background(), "probe.test.")
		switch {
		case err != nil:
			probeErr = err
		case len(txts) == 1 && txts[0] == want:
		case len(txts) == 1 && unescapeTXT(txts[0]) == want:
			probeEscaped = true
		default:
			probeErr = fmt.Errorf("probe TXT %q, want %q", txts, want)
		}
	})
	if probeErr != nil {
		t.Fatalf("txt probe: %v", probeErr)
	}
	if probeEscaped {
		t.Logf("NOTE: resolver.Client.LookupTXT returns presentation-format text (\\DDD escapes); the suites unescape it around the Client")
	}
	return func(addr string) resolver.Resolver {
		c, err := newSuiteClient(addr)
		if err != nil {
			t.Fatal(err)
		}
		if probeEscaped {
			return rawTXT{c}
		}
		return c
	}
}

var (
	probeOnce    sync.Once
	probeEscaped bool
	probeErr     error
)

func newSuiteClient(addr string) (*resolver.Client, error) {
	return resolver.New(resolver.Config{Servers: []string{addr}, Timeout: suiteTimeout, Attempts: 1, CacheSize: -1})
}

// rawTXT undoes the presentation-format escaping of TXT strings.
type rawTXT struct{ resolver.Resolver }

func (r rawTXT) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := r.Resolver.LookupTXT(ctx, name)
	for i, s := range txts {
		txts[i] = unescapeTXT(s)
	}
	return txts, err
}

func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// zoneRR is one zonedata item.
type zoneRR struct {
	typ     string   // A, AAAA, MX, TXT, SPF, PTR, CNAME; "" for TIMEOUT
	vals    []string // the strings of a TXT/SPF record; one value otherwise
	mxPref  int
	none    bool // TXT: NONE
	timeout bool
}

// zoneText renders zonedata as a master file for dnstest, following the
// reference driver (pyspf's testspf.py) and the suite README:
//   - SPF records are served as SPF and, when the name has no TXT entry
//     (TXT: NONE counts as one), as TXT too, listed after everything else;
//   - a TIMEOUT item makes every query for the name time out, except for
//     the types that have a record listed before it (";!timeout" directives
//     for the other types); records after it are never seen;
//   - a TXT with no strings (SPF: [ ]) is not expressible in master file
//     syntax (RFC 1035 requires one character-string at least) and is
//     served as one empty string, which is the same record after joining.
func zoneText(data map[string]yaml.Node) (string, error) {
	var b strings.Builder
	b.WriteString("$ORIGIN .\n$TTL 300\n")
	for _, owner := range slices.Sorted(func(yield func(string) bool) {
		for n := range data {
			if !yield(n) {
				return
			}
		}
	}) {
		node := data[owner]
		rrs, err := parseZoneRRs(&node)
		if err != nil {
			return "", fmt.Errorf("zonedata %s: %w", owner, err)
		}
		hasTXT := slices.ContainsFunc(rrs, func(r zoneRR) bool { return r.typ == "TXT" })
		for _, r := range rrs {
			if r.typ == "SPF" && !hasTXT {
				rrs = append(rrs, zoneRR{typ: "TXT", vals: r.vals})
			}
		}
		name := fqdn(strings.ToLower(strings.TrimSuffix(owner, ".")))
		served := map[string]bool{}
		timeout := false
		for _, r := range rrs {
			if r.timeout {
				timeout = true
				break
			}
			if r.none {
				continue
			}
			served[r.typ] = true
			b.WriteString(rrText(name, r))
		}
		if !timeout {
			continue
		}
		if strings.ContainsAny(name, `\ `) {
			return "", fmt.Errorf("zonedata %s: TIMEOUT for a name that needs escaping: not expressible as a ;!timeout directive", owner)
		}
		if len(served) == 0 {
			fmt.Fprintf(&b, ";!timeout %s\n", name)
			continue
		}
		for _, typ := range []string{"A", "AAAA", "MX", "TXT", "SPF", "PTR", "CNAME"} {
			if !served[typ] {
				fmt.Fprintf(&b, ";!timeout %s %s\n", name, typ)
			}
		}
	}
	return b.String(), nil
}

func parseZoneRRs(n *yaml.Node) ([]zoneRR, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("not a list")
	}
	var out []zoneRR
	for _, item := range n.Content {
		if item.Kind == yaml.ScalarNode && item.Value == "TIMEOUT" {
			out = append(out, zoneRR{timeout: true})
			continue
		}
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			return nil, fmt.Errorf("bad item at line %d", item.Line)
		}
		r := zoneRR{typ: item.Content[0].Value}
		v := item.Content[1]
		switch r.typ {
		case "TXT", "SPF":
			if v.Kind == yaml.ScalarNode && v.Value == "NONE" && r.typ == "TXT" {
				r.none = true
			} else if v.Kind == yaml.ScalarNode {
				r.vals = []string{v.Value}
			} else if err := v.Decode(&r.vals); err != nil {
				return nil, err
			}
		case "MX":
			var mx []string
			if err := v.Decode(&mx); err != nil || len(mx) != 2 {
				return nil, fmt.Errorf("bad MX at line %d", v.Line)
			}
			p, err := strconv.Atoi(mx[0])
			if err != nil {
				return nil, err
			}
			r.mxPref, r.vals = p, []string{mx[1]}
		case "A", "AAAA", "PTR", "CNAME":
			r.vals = []string{v.Value}
		default:
			return nil, fmt.Errorf("unknown type %q at line %d", r.typ, item.Line)
		}
		out = append(out, r)
	}
	return out, nil
}

func rrText(name string, r zoneRR) string {
	target := func(s string) string {
		s = strings.TrimSuffix(s, ".")
		if s == "" {
			return "." // MX: [0, ""] is a null MX (RFC 7505)
		}
		return fqdn(s)
	}
	switch r.typ {
	case "A", "AAAA":
		return fmt.Sprintf("%s %s %s\n", name, r.typ, r.vals[0])
	case "PTR", "CNAME":
		return fmt.Sprintf("%s %s %s\n", name, r.typ, target(r.vals[0]))
	case "MX":
		return fmt.Sprintf("%s MX %d %s\n", name, r.mxPref, target(r.vals[0]))
	}
	var strs []string
	for _, v := range r.vals {
		for len(v) > 255 {
			strs = append(strs, quoteTXT(v[:255]))
			v = v[255:]
		}
		strs = append(strs, quoteTXT(v))
	}
	if len(strs) == 0 {
		strs = []string{`""`}
	}
	return fmt.Sprintf("%s %s %s\n", name, r.typ, strings.Join(strs, " "))
}

// quoteTXT writes a character-string in master file syntax.
func quoteTXT(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
