package policy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// SuffixList finds the registrable domain of a name by a Public Suffix
// List (https://publicsuffix.org/list/): the public suffix plus one label.
// It is the RFC 7489 §3.2 organizational domain. Names given are
// normalized (lower-case A-labels, no trailing dot). A name that is itself
// a public suffix has no registrable domain: an error.
type SuffixList interface {
	EffectiveTLDPlusOne(domain string) (string, error)
}

// xnetList is the default SuffixList: golang.org/x/net/publicsuffix,
// whose compiled-in table is as old as the x/net module in go.mod.
type xnetList struct{}

func (xnetList) EffectiveTLDPlusOne(d string) (string, error) {
	return publicsuffix.EffectiveTLDPlusOne(d)
}

// DebianSuffixListPath is where Debian's publicsuffix package installs
// the list; LoadSuffixListFile reads it, for a list fresher than the one
// compiled in.
const DebianSuffixListPath = "/usr/share/publicsuffix/public_suffix_list.dat"

// List is a Public Suffix List loaded from the list's text format
// (public_suffix_list.dat), ICANN and private sections alike, as
// golang.org/x/net/publicsuffix uses both.
type List struct {
	rules      map[string]bool // "example.com" for the rule example.com
	wildcards  map[string]bool // "kobe.jp" for the rule *.kobe.jp
	exceptions map[string]bool // "city.kobe.jp" for the rule !city.kobe.jp
	n          int
}

var _ SuffixList = (*List)(nil)

// LoadSuffixListFile loads a list file, e.g. DebianSuffixListPath.
func LoadSuffixListFile(path string) (*List, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dmarc: public suffix list: %w", err)
	}
	defer f.Close()
	l, err := LoadSuffixList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// LoadSuffixList reads the list format: one rule per line (the first
// white-space separated word), "//" comments, "*." wildcard and "!"
// exception rules, rules in Unicode converted to A-labels.
func LoadSuffixList(r io.Reader) (*List, error) {
	l := &List{rules: map[string]bool{}, wildcards: map[string]bool{}, exceptions: map[string]bool{}}
	sc := bufio.NewScanner(r)
	lineno := 0
	for sc.Scan() {
		lineno++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		rule := strings.Fields(line)[0]
		m := l.rules
		switch {
		case strings.HasPrefix(rule, "!"):
			rule, m = rule[1:], l.exceptions
		case strings.HasPrefix(rule, "*."):
			rule, m = rule[2:], l.wildcards
		}
		d, err := normalize(rule)
		if err != nil {
			return nil, fmt.Errorf("dmarc: public suffix list line %d: %w", lineno, err)
		}
		m[d] = true
		l.n++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dmarc: public suffix list: %w", err)
	}
	if l.n == 0 {
		return nil, fmt.Errorf("dmarc: public suffix list: no rules")
	}
	return l, nil
}

// Len is the number of rules.
func (l *List) Len() int { return l.n }

// PublicSuffix returns the public suffix of a normalized domain by the
// algorithm of https://publicsuffix.org/list/: an exception rule wins,
// else the matching rule with the most labels, else "*" (the last label).
func (l *List) PublicSuffix(d string) string {
	labels := strings.Split(d, ".")
	n := len(labels)
	for i := range n {
		if l.exceptions[strings.Join(labels[i:], ".")] {
			// The exception's suffix is the rule minus its first label.
			return strings.Join(labels[i+1:], ".")
		}
	}
	for i := range n {
		if l.rules[strings.Join(labels[i:], ".")] || i+1 < n && l.wildcards[strings.Join(labels[i+1:], ".")] {
			return strings.Join(labels[i:], ".")
		}
	}
	return labels[n-1]
}

// EffectiveTLDPlusOne implements SuffixList.
func (l *List) EffectiveTLDPlusOne(d string) (string, error) {
	ps := l.PublicSuffix(d)
	if len(ps) >= len(d) {
		return "", fmt.Errorf("%w: %s", ErrPublicSuffix, d)
	}
	return lastLabels(d, labelCount(ps)+1), nil
}
