package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Restriction is one item of a restriction list (client, helo, sender,
// recipient or a class), evaluated in order with Postfix's semantics.
//
// In YAML an item is one of:
//
//   - unknown_client_hostname                          # a name
//   - check_client_access hash:/etc/postfix/access     # Postfix style: name, space, argument
//   - rbl: zen.spamhaus.org=127.0.0.[2..11]           # name: argument
//   - unknown_client_hostname: {action: warn}          # name: options
//   - access: {table: "hash:/a", action: warn, code: 550, enhanced: 5.7.1, text: "go away"}
//   - access: hash:/a                                  # name: argument, and options
//     action: warn                                     # beside it
//
// Options: arg (aliases table and zone), action, temperror, code, enhanced,
// text; any other option is kept in Options for checks to come.
type Restriction struct {
	// Name is the canonical name (unknown_client_hostname for
	// reject_unknown_client_hostname or fcrdns), or the class name when
	// Class is set.
	Name string
	// Given is the name as written.
	Given string
	// Arg is the argument: the table of an access restriction
	// ("hash:/etc/postfix/client_access"), the zone and optional reply
	// filter of a DNS list ("zen.spamhaus.org=127.0.0.[2..11]").
	Arg string
	// Action is what a failing check does (DESIGN.md §2): reject,
	// tempfail, defer_if_permit, quarantine, tag, warn, accept or off.
	// Empty means the check's default. warn_if_reject before an item sets
	// it to warn.
	Action string
	// TempAction is the action on a temporary DNS failure (option
	// temperror). Empty means the check's default (Postfix's
	// *_tempfail_action where Postfix has one).
	TempAction string
	// Code is the SMTP reply code of a rejection (400-599); 0 means the
	// default from Codes.
	Code int
	// Enhanced is the RFC 3463 enhanced status code ("5.7.1"); empty
	// means the check's default.
	Enhanced string
	// Text is the public reply text; empty means the check's default.
	Text string
	// Options holds any further options, for checks that need them.
	Options map[string]string
	// Key is where the item was written, for messages: "client[2]",
	// "classes.greylisted[0]".
	Key string
	// Class is set when Name refers to a list under classes:.
	Class bool

	raw    any // the YAML item, until parseList
	rawSet bool
}

// String returns the restriction the way main.cf would write it.
func (r Restriction) String() string {
	if r.Arg == "" {
		return r.Name
	}
	return r.Name + " " + r.Arg
}

// label is the name as written, for messages.
func (r Restriction) label() string {
	if r.Given != "" {
		return r.Given
	}
	return r.Name
}

// MarshalYAML writes the item in its shortest form, with the canonical
// name.
func (r Restriction) MarshalYAML() (any, error) {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	var opts []*yaml.Node
	add := func(k, v string) {
		if v != "" {
			opts = append(opts, str(k), str(v))
		}
	}
	argKey := "arg"
	if d, ok := lookupName(r.Name); ok && !r.Class {
		switch d.arg {
		case argTable:
			argKey = "table"
		case argDNSList:
			argKey = "zone"
		}
	}
	hasOpts := r.Action != "" || r.TempAction != "" || r.Code != 0 || r.Enhanced != "" || r.Text != "" || len(r.Options) > 0
	if hasOpts {
		add(argKey, r.Arg)
	}
	add("action", r.Action)
	add("temperror", r.TempAction)
	if r.Code != 0 {
		opts = append(opts, str("code"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(r.Code)})
	}
	add("enhanced", r.Enhanced)
	add("text", r.Text)
	for _, k := range sortedKeys(r.Options) {
		opts = append(opts, str(k), str(r.Options[k]))
	}
	switch {
	case len(opts) > 0:
		return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(r.Name), {Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: opts}}}, nil
	case r.Arg != "":
		return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str(r.Name), str(r.Arg)}}, nil
	}
	return str(r.Name), nil
}

// stage is the earliest list in which a restriction's input is known.
type stage int

const (
	stageAny stage = iota // generic restrictions: anywhere
	stageClient
	stageHelo
	stageSender
	stageRecipient
	stageOwn // access: the kind of the list it is in
)

var listStage = map[string]stage{"client": stageClient, "helo": stageHelo, "sender": stageSender, "recipient": stageRecipient}

func (s stage) needs() string {
	switch s {
	case stageHelo:
		return "the HELO name"
	case stageSender:
		return "the MAIL FROM address"
	case stageRecipient:
		return "the RCPT TO address"
	}
	return "the client"
}

func (s stage) lists() string {
	switch s {
	case stageHelo:
		return "helo:, sender: or recipient:"
	case stageSender:
		return "sender: or recipient:"
	case stageRecipient:
		return "recipient:"
	}
	return "any list"
}

// argKind says what argument a restriction takes.
type argKind int

const (
	argNone    argKind = iota
	argTable           // a Postfix table: type:name
	argDNSList         // a DNS list: zone[=d.d.d.d]
)

// nameDef describes one restriction name.
type nameDef struct {
	name    string
	aliases []string // Postfix's names, old and new, and short ones
	stage   stage
	arg     argKind
	permit  bool // never rejects: warn_if_reject has nothing to soften
}

// names are the restrictions mxguard knows, with Postfix's names as
// aliases (postconf(5), smtpd_*_restrictions). Postfix's pre-2.3 names
// (reject_unknown_client, reject_invalid_hostname, ...) are accepted too.
var names = []nameDef{
	{name: "access", stage: stageOwn, arg: argTable},
	{name: "client_access", aliases: []string{"check_client_access"}, stage: stageClient, arg: argTable},
	{name: "helo_access", aliases: []string{"check_helo_access"}, stage: stageHelo, arg: argTable},
	{name: "sender_access", aliases: []string{"check_sender_access"}, stage: stageSender, arg: argTable},
	{name: "recipient_access", aliases: []string{"check_recipient_access"}, stage: stageRecipient, arg: argTable},
	{name: "unknown_reverse_client_hostname", aliases: []string{"reject_unknown_reverse_client_hostname", "rdns"}, stage: stageClient},
	{name: "unknown_client_hostname", aliases: []string{"reject_unknown_client_hostname", "reject_unknown_client", "fcrdns"}, stage: stageClient},
	{name: "invalid_helo_hostname", aliases: []string{"reject_invalid_helo_hostname", "reject_invalid_hostname"}, stage: stageHelo},
	{name: "non_fqdn_helo_hostname", aliases: []string{"reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname"}, stage: stageHelo},
	{name: "unknown_helo_hostname", aliases: []string{"reject_unknown_helo_hostname", "reject_unknown_hostname"}, stage: stageHelo},
	{name: "helo_impersonation", stage: stageHelo},
	{name: "non_fqdn_sender", aliases: []string{"reject_non_fqdn_sender"}, stage: stageSender},
	{name: "unknown_sender_domain", aliases: []string{"reject_unknown_sender_domain"}, stage: stageSender},
	{name: "non_fqdn_recipient", aliases: []string{"reject_non_fqdn_recipient"}, stage: stageRecipient},
	{name: "unknown_recipient_domain", aliases: []string{"reject_unknown_recipient_domain"}, stage: stageRecipient},
	{name: "mynetworks", aliases: []string{"permit_mynetworks"}, stage: stageClient, permit: true},
	{name: "sasl_authenticated", aliases: []string{"permit_sasl_authenticated"}, stage: stageClient, permit: true},
	{name: "permit", stage: stageAny, permit: true},
	{name: "reject", stage: stageAny},
	{name: "defer", stage: stageAny},
	{name: "defer_if_permit", stage: stageAny},
	{name: "defer_if_reject", stage: stageAny},
	{name: "warn_if_reject", stage: stageAny},
	{name: "rbl", aliases: []string{"reject_rbl_client"}, stage: stageClient, arg: argDNSList},
	{name: "rhsbl_client", aliases: []string{"reject_rhsbl_client"}, stage: stageClient, arg: argDNSList},
	{name: "rhsbl_reverse_client", aliases: []string{"reject_rhsbl_reverse_client"}, stage: stageClient, arg: argDNSList},
	{name: "rhsbl_helo", aliases: []string{"reject_rhsbl_helo"}, stage: stageHelo, arg: argDNSList},
	{name: "rhsbl_sender", aliases: []string{"reject_rhsbl_sender"}, stage: stageSender, arg: argDNSList},
	{name: "rhsbl_recipient", aliases: []string{"reject_rhsbl_recipient"}, stage: stageRecipient, arg: argDNSList},
	{name: "dnswl", aliases: []string{"permit_dnswl_client"}, stage: stageClient, arg: argDNSList, permit: true},
	{name: "rhswl", aliases: []string{"permit_rhswl_client"}, stage: stageClient, arg: argDNSList, permit: true},
	{name: "dnsbl_score", aliases: []string{"postscreen_dnsbl_sites"}, stage: stageClient, arg: argDNSList},
}

var nameIndex = func() map[string]nameDef {
	m := map[string]nameDef{}
	for _, d := range names {
		m[d.name] = d
		for _, a := range d.aliases {
			m[a] = d
		}
	}
	return m
}()

// lookupName finds a restriction by its canonical name or an alias.
func lookupName(name string) (nameDef, bool) {
	d, ok := nameIndex[strings.ToLower(name)]
	return d, ok
}

// KnownRestrictions returns the canonical restriction names, in the order
// the documentation lists them.
func KnownRestrictions() []string {
	out := make([]string, len(names))
	for i, d := range names {
		out[i] = d.name
	}
	return out
}

// postfixOnly are Postfix restrictions mxguard leaves to Postfix.
var postfixOnly = map[string]bool{
	"reject_unauth_destination": true, "defer_unauth_destination": true, "permit_auth_destination": true,
	"reject_unlisted_recipient": true, "reject_unlisted_sender": true, "check_recipient_maps": true,
	"reject_unverified_recipient": true, "reject_unverified_sender": true,
	"check_policy_service": true, "reject_unauth_pipelining": true, "reject_sender_login_mismatch": true,
	"reject_authenticated_sender_login_mismatch": true, "reject_known_sender_login_mismatch": true,
	"reject_unauthenticated_sender_login_mismatch": true, "check_sasl_access": true,
	"permit_tls_clientcerts": true, "permit_tls_all_clientcerts": true, "check_ccert_access": true,
	"reject_multi_recipient_bounce": true, "reject_plaintext_session": true, "permit_mx_backup": true,
	"permit_inet_interfaces": true, "permit_naked_ip_address": true, "sleep": true,
	"reject_unknown_forward_client_hostname": true, "check_reverse_client_hostname_access": true,
	"check_client_a_access": true, "check_client_mx_access": true, "check_client_ns_access": true,
	"check_helo_a_access": true, "check_helo_mx_access": true, "check_helo_ns_access": true,
	"check_sender_a_access": true, "check_sender_mx_access": true, "check_sender_ns_access": true,
	"check_recipient_a_access": true, "check_recipient_mx_access": true, "check_recipient_ns_access": true,
	"reject_rhsbl_reverse_client_hostname": true, "permit_auth_destination_address": true,
	"reject_non_fqdn_address": true, "reject_unknown_address": true, "reject_maps_rbl": true, "reject_rbl": true,
}

// planned are restriction names that later versions will define.
var planned = map[string]bool{"greylist": true}

// optionKeys are the options every restriction takes; aliases of arg
// included.
var optionKeys = []string{"arg", "table", "zone", "action", "temperror", "code", "enhanced", "text"}

// extraOptions are the options of particular restrictions (the DNS lists'
// name, reply, health_check and scope; dnsbl_score's thresholds and
// names), kept in Restriction.Options and checked where the restriction is
// built.
var extraOptions = map[string]bool{"name": true, "reply": true, "health_check": true, "scope": true,
	"reject_threshold": true, "allow_threshold": true, "names": true}

func isOptionKey(k string) bool {
	for _, o := range optionKeys {
		if k == o {
			return true
		}
	}
	return false
}

// splitPostfix splits a restriction list written as one string the way
// Postfix reads main.cf: on spaces and commas, a restriction that takes an
// argument taking the next word.
func splitPostfix(s string) []Restriction {
	words := splitList(s)
	var out []Restriction
	for i := 0; i < len(words); i++ {
		item := words[i]
		if d, ok := lookupName(item); ok && d.arg != argNone && i+1 < len(words) {
			item += " " + words[i+1]
			i++
		}
		out = append(out, Restriction{raw: item, rawSet: true})
	}
	return out
}

// parseList turns the raw items of list (a key such as "client" or
// "classes.greylisted") into Restrictions, and applies warn_if_reject to
// the item after it. Items that cannot be read are reported and left out.
func (l *loader) parseList(list string, items []Restriction, classes map[string]bool) []Restriction {
	out := make([]Restriction, 0, len(items))
	var pending *Restriction // a warn_if_reject waiting for its restriction
	for i, it := range items {
		key := fmt.Sprintf("%s[%d]", list, i)
		r, ok := l.parseItem(key, it, classes)
		if !ok {
			continue
		}
		if r.Name == "warn_if_reject" && !r.Class {
			if pending != nil {
				l.add(key, "warn_if_reject follows warn_if_reject", "one is enough")
			}
			pending = &r
			continue
		}
		if pending != nil {
			d, known := lookupName(r.Name)
			switch {
			case known && !r.Class && d.permit:
				l.warn(pending.Key, fmt.Sprintf("warn_if_reject has no effect on %s, which never rejects", r.Name), "")
			case r.Action != "" && r.Action != "warn":
				l.add(pending.Key, fmt.Sprintf("warn_if_reject before %s, which has action: %s", r.Name, r.Action),
					"remove one of them")
			default:
				r.Action = "warn"
			}
			pending = nil
		}
		out = append(out, r)
	}
	if pending != nil {
		out = append(out, *pending) // Validate reports it
	}
	return out
}

func (l *loader) warn(key, msg, hint string) {
	l.problems = append(l.problems, Problem{File: l.source(key), Key: key, Message: msg, Hint: hint, Warning: true})
}

// parseItem reads one list item.
func (l *loader) parseItem(key string, it Restriction, classes map[string]bool) (Restriction, bool) {
	if !it.rawSet {
		if it.Name != "" {
			return it, true
		}
		l.add(key, "empty list item", `name a restriction after the "-", or remove the line`)
		return it, false
	}
	r := Restriction{Key: key}
	switch raw := it.raw.(type) {
	case string:
		s := strings.TrimSpace(raw)
		if s == "" {
			l.add(key, "empty list item", `name a restriction after the "-", or remove the line`)
			return r, false
		}
		name, arg := s, ""
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			name, arg = s[:i], strings.TrimSpace(s[i+1:])
		}
		// A Postfix inline:{ a=b, c=d } table may hold spaces and commas.
		braced := strings.Contains(arg, "{")
		if strings.Contains(name, ",") || (!braced && strings.Contains(arg, ",")) {
			l.add(key, fmt.Sprintf("%q holds more than one restriction", s),
				`write one restriction per list item ("- name" on its own line)`)
			return r, false
		}
		if !braced && strings.ContainsAny(arg, " \t") {
			l.add(key, fmt.Sprintf("%q has more than one argument", s),
				"write one restriction per list item; at most one argument follows the name")
			return r, false
		}
		r.Given, r.Arg = name, arg
	case map[string]any, map[any]any:
		if !l.parseMap(key, mapOf(raw), &r) {
			return r, false
		}
	default:
		l.add(key, "must be a restriction name or a mapping, not "+describe(raw),
			"write - name, - name: argument or - name: {option: value}")
		return r, false
	}
	r.Name = strings.ToLower(r.Given)
	if d, ok := lookupName(r.Name); ok {
		r.Name = d.name
	} else if classes[r.Name] {
		r.Class = true
	}
	return r, true
}

// parseMap reads an item written as a mapping: the one key that is not an
// option is the restriction's name.
func (l *loader) parseMap(key string, m map[string]any, r *Restriction) bool {
	var nameKeys []string
	opts := map[string]any{}
	for k, v := range m {
		if lk := strings.ToLower(k); isOptionKey(lk) {
			opts[lk] = v
		} else {
			nameKeys = append(nameKeys, k)
		}
	}
	sort.Strings(nameKeys)
	if len(nameKeys) > 1 {
		// A misspelt option beside the name ("acton: warn") is not a
		// second restriction.
		kept := nameKeys[:0]
		misspelt := false
		for _, k := range nameKeys {
			lk := strings.ToLower(k)
			if _, known := lookupName(lk); !known && !extraOptions[lk] {
				if near, found := nearest(lk, optionKeys); found {
					l.add(key+"."+lk, fmt.Sprintf("unknown option %q", k), fmt.Sprintf("did you mean %q?", near))
					misspelt = true
					continue
				}
			}
			kept = append(kept, k)
		}
		nameKeys = kept
		if misspelt && len(nameKeys) == 1 {
			r.Given = nameKeys[0]
			return false
		}
	}
	switch len(nameKeys) {
	case 0:
		l.add(key, "names no restriction", "write the name as the key, e.g. - unknown_client_hostname: {action: warn}")
		return false
	case 1:
	default:
		l.add(key, fmt.Sprintf("names more than one restriction: %s", strings.Join(nameKeys, ", ")),
			`put each restriction in its own list item; options go under the name: - access: {table: "hash:/etc/postfix/access", action: warn}`)
		return false
	}
	r.Given = nameKeys[0]
	ok := true
	switch v := m[r.Given].(type) {
	case nil:
	case map[string]any, map[any]any:
		for k, x := range mapOf(v) {
			lk := strings.ToLower(k)
			if _, dup := opts[lk]; dup {
				l.add(key+"."+lk, "given twice", "")
				ok = false
				continue
			}
			opts[lk] = x
		}
	case []any:
		l.add(key, fmt.Sprintf("the value of %s must be an argument or a mapping of options, not a list", r.Given),
			"write one list item for each argument")
		return false
	default:
		r.Arg, _ = scalarString(v)
	}
	return l.applyOptions(key, opts, r) && ok
}

// applyOptions sets r's fields from an item's options.
func (l *loader) applyOptions(key string, opts map[string]any, r *Restriction) bool {
	ok := true
	for _, k := range sortedKeys(opts) {
		s, scalar := scalarString(opts[k])
		if !scalar {
			l.add(key+"."+k, "must be a single value, not "+describe(opts[k]), "")
			ok = false
			continue
		}
		switch k {
		case "arg", "table", "zone":
			if r.Arg != "" {
				l.add(key+"."+k, "the argument is given twice", "give it either after the name or as arg, table or zone")
				ok = false
				continue
			}
			r.Arg = s
		case "action":
			r.Action = strings.ToLower(strings.TrimSpace(s))
		case "temperror":
			r.TempAction = strings.ToLower(strings.TrimSpace(s))
		case "code":
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				l.add(key+".code", fmt.Sprintf("%q is not a reply code", s), "write a number such as 550")
				ok = false
				continue
			}
			r.Code = n
		case "enhanced":
			r.Enhanced = strings.TrimSpace(s)
		case "text":
			r.Text = s
		default:
			if near, found := nearest(k, optionKeys); found && !extraOptions[k] {
				l.add(key+"."+k, fmt.Sprintf("unknown option %q", k), fmt.Sprintf("did you mean %q?", near))
				ok = false
				continue
			}
			if r.Options == nil {
				r.Options = map[string]string{}
			}
			r.Options[k] = s
		}
	}
	return ok
}

// scalarString returns a YAML scalar as a string.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(x), true
	}
	return "", false
}
