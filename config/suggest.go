package config

import (
	"fmt"
	"sort"
	"strings"
)

// levenshtein is the edit distance between a and b, counting a swap of two
// adjacent letters as one edit (so "unknwon" is one edit from "unknown").
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice for the optimal string alignment distance.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// nearest returns the candidate closest to s, if it is close enough to be
// a likely typo.
func nearest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(s, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(best)/5) && bestD < len(best) {
		return best, true
	}
	// A name cut short ("reject_unknown_helo" for
	// "reject_unknown_helo_hostname": the shortest candidate it starts),
	// or too long ("warning" for "warn": the longest candidate that
	// starts it).
	if len(s) < 4 {
		return "", false
	}
	best = ""
	for _, c := range candidates {
		if strings.HasPrefix(c, s) && (best == "" || len(c) < len(best)) {
			best = c
		}
	}
	if best != "" {
		return best, true
	}
	for _, c := range candidates {
		if len(c) >= 4 && strings.HasPrefix(s, c) && len(c) > len(best) {
			best = c
		}
	}
	return best, best != ""
}

// postfixParams maps main.cf parameter names to our keys, for a postmaster
// who pastes main.cf names.
var postfixParams = map[string]string{
	"smtpd_client_restrictions":    "client",
	"smtpd_helo_restrictions":      "helo",
	"smtpd_sender_restrictions":    "sender",
	"smtpd_recipient_restrictions": "recipient",
	"smtpd_relay_restrictions":     "recipient",
	"smtpd_restriction_classes":    "classes",
	"mynetworks":                   "trusted_networks",
	"smtpd_delay_reject":           "delay_reject",
	"smtpd_helo_required":          "helo_required",
	"myhostname":                   "hostname",
	"smtpd_milters":                "listen",
}

// plannedKeys are keys that DESIGN.md reserves for later versions.
var plannedKeys = map[string]bool{"greylist": true}

// allKeys are the keys a configuration may have, sections included.
func allKeys() []string {
	keys := []string{"classes"}
	for s := range sections {
		if s != "classes" {
			keys = append(keys, s)
		}
	}
	for _, k := range schema {
		keys = append(keys, k.key)
	}
	sort.Strings(keys)
	return keys
}

// suggestKey is the hint for an unknown key.
func suggestKey(key string) string {
	top, _, _ := strings.Cut(key, ".")
	if plannedKeys[top] {
		return top + " is planned but not implemented in this version"
	}
	if k, ok := postfixParams[key]; ok {
		return fmt.Sprintf("did you mean %q? %s is Postfix's name", k, key)
	}
	last := key[strings.LastIndex(key, ".")+1:]
	if k, ok := postfixParams[last]; ok {
		return fmt.Sprintf("did you mean %q? %s is Postfix's name", k, last)
	}
	// The sections the key is in are no suggestion: "auth.dkim.fail"
	// starts with "auth.dkim", but the answer is "auth.spf.fail".
	var keys []string
	for _, k := range allKeys() {
		if !strings.HasPrefix(key, k+".") {
			keys = append(keys, k)
		}
	}
	if k, ok := nearest(key, keys); ok {
		return fmt.Sprintf("did you mean %q?", k)
	}
	// The right name in the wrong place: servers at the top level,
	// unknown_client_reject_code outside codes:.
	for _, k := range keys {
		if k != key && k[strings.LastIndex(k, ".")+1:] == last {
			return fmt.Sprintf("did you mean %q?", k)
		}
	}
	return ""
}

// suggestName is the hint for an unknown restriction name.
func suggestName(name string, classes map[string][]Restriction) string {
	candidates := make([]string, 0, len(nameIndex)+len(classes))
	for n := range nameIndex {
		candidates = append(candidates, n)
	}
	for n := range classes {
		candidates = append(candidates, n)
	}
	sort.Strings(candidates)
	known := "known restrictions: " + strings.Join(KnownRestrictions(), ", ")
	if len(classes) > 0 {
		known += "; classes: " + strings.Join(sortedKeys(classes), ", ")
	}
	lower := strings.ToLower(name)
	if near, ok := nearest(lower, candidates); ok {
		if d, isName := lookupName(near); isName {
			near = d.name
		}
		return fmt.Sprintf("did you mean %q? %s", near, known)
	}
	// Postfix's prefixes on our short names, or the reverse.
	for _, p := range []string{"reject_", "permit_", "check_"} {
		if s, ok := strings.CutPrefix(lower, p); ok {
			if near, ok := nearest(s, candidates); ok {
				if d, isName := lookupName(near); isName {
					near = d.name
				}
				return fmt.Sprintf("did you mean %q? %s", near, known)
			}
		}
	}
	return known
}
