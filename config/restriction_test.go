package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestRestrictions(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		want     []Restriction // the client list, or the list under test
		list     string        // "client" when empty
		wantErrs []string
		warnings []string
	}{
		{name: "name", input: "client: [unknown_client_hostname]",
			want: []Restriction{{Name: "unknown_client_hostname", Given: "unknown_client_hostname", Key: "client[0]"}}},
		{name: "postfix names", input: "client: [reject_unknown_client_hostname, REJECT_UNKNOWN_REVERSE_CLIENT_HOSTNAME, fcrdns, rdns, reject_unknown_client, permit_mynetworks, permit_sasl_authenticated]",
			want: []Restriction{
				{Name: "unknown_client_hostname", Given: "reject_unknown_client_hostname", Key: "client[0]"},
				{Name: "unknown_reverse_client_hostname", Given: "REJECT_UNKNOWN_REVERSE_CLIENT_HOSTNAME", Key: "client[1]"},
				{Name: "unknown_client_hostname", Given: "fcrdns", Key: "client[2]"},
				{Name: "unknown_reverse_client_hostname", Given: "rdns", Key: "client[3]"},
				{Name: "unknown_client_hostname", Given: "reject_unknown_client", Key: "client[4]"},
				{Name: "mynetworks", Given: "permit_mynetworks", Key: "client[5]"},
				{Name: "sasl_authenticated", Given: "permit_sasl_authenticated", Key: "client[6]"},
			}},
		{name: "postfix style argument", input: "client:\n  - check_client_access   hash:/etc/postfix/client_access\n",
			want: []Restriction{{Name: "client_access", Given: "check_client_access", Arg: "hash:/etc/postfix/client_access", Key: "client[0]"}}},
		{name: "name: argument", input: "client:\n  - access: hash:/etc/postfix/client_access\n  - rbl: zen.spamhaus.org=127.0.0.[2..11]\n  - reject_rhsbl_reverse_client: dbl.spamhaus.org=127.0.1.[2;4..99]\n",
			want: []Restriction{
				{Name: "access", Given: "access", Arg: "hash:/etc/postfix/client_access", Key: "client[0]"},
				{Name: "rbl", Given: "rbl", Arg: "zen.spamhaus.org=127.0.0.[2..11]", Key: "client[1]"},
				{Name: "rhsbl_reverse_client", Given: "reject_rhsbl_reverse_client", Arg: "dbl.spamhaus.org=127.0.1.[2;4..99]", Key: "client[2]"},
			}},
		{name: "name: options", input: "client:\n  - unknown_client_hostname: {action: WARN}\n  - rbl: {zone: zen.spamhaus.org, action: reject, temperror: tempfail, code: 554, enhanced: 5.7.1, text: 'Listed, see https://example.org/', weight: 2}\n",
			want: []Restriction{
				{Name: "unknown_client_hostname", Given: "unknown_client_hostname", Action: "warn", Key: "client[0]"},
				{Name: "rbl", Given: "rbl", Arg: "zen.spamhaus.org", Action: "reject", TempAction: "tempfail", Code: 554, Enhanced: "5.7.1",
					Text: "Listed, see https://example.org/", Options: map[string]string{"weight": "2"}, Key: "client[1]"},
			}},
		{name: "table option and arg alias", input: "client:\n  - access: {table: 'hash:/a', action: warn}\n  - dnswl: {arg: list.dnswl.org}\n",
			want: []Restriction{
				{Name: "access", Given: "access", Arg: "hash:/a", Action: "warn", Key: "client[0]"},
				{Name: "dnswl", Given: "dnswl", Arg: "list.dnswl.org", Key: "client[1]"},
			}},
		{name: "options beside the name", input: "client:\n  - access: hash:/a\n    action: warn\n    code: 450\n    enhanced: 4.7.1\n",
			want: []Restriction{{Name: "access", Given: "access", Arg: "hash:/a", Action: "warn", Code: 450, Enhanced: "4.7.1", Key: "client[0]"}}},
		{name: "empty value", input: "client:\n  - unknown_client_hostname:\n",
			want: []Restriction{{Name: "unknown_client_hostname", Given: "unknown_client_hostname", Key: "client[0]"}}},
		{name: "list as one string", input: `client: "permit_mynetworks, check_client_access hash:/a reject_rbl_client zen.spamhaus.org"`,
			want: []Restriction{
				{Name: "mynetworks", Given: "permit_mynetworks", Key: "client[0]"},
				{Name: "client_access", Given: "check_client_access", Arg: "hash:/a", Key: "client[1]"},
				{Name: "rbl", Given: "reject_rbl_client", Arg: "zen.spamhaus.org", Key: "client[2]"},
			}},

		{name: "warn_if_reject", input: "client: [warn_if_reject, reject_unknown_client_hostname, unknown_reverse_client_hostname]",
			want: []Restriction{
				{Name: "unknown_client_hostname", Given: "reject_unknown_client_hostname", Action: "warn", Key: "client[1]"},
				{Name: "unknown_reverse_client_hostname", Given: "unknown_reverse_client_hostname", Key: "client[2]"},
			}},
		{name: "warn_if_reject last", input: "client: [unknown_client_hostname, warn_if_reject]",
			wantErrs: []string{"client[1]: warn_if_reject is last in its list, but applies to the restriction after it"}},
		{name: "warn_if_reject before a permit", input: "client: [warn_if_reject, permit_mynetworks]",
			want:     []Restriction{{Name: "mynetworks", Given: "permit_mynetworks", Key: "client[1]"}},
			warnings: []string{"test.yml: warning: client[0]: warn_if_reject has no effect on mynetworks, which never rejects"}},
		{name: "warn_if_reject before an action", input: "client: [warn_if_reject, {rbl: {zone: zen.spamhaus.org, action: tag}}]",
			wantErrs: []string{"client[0]: warn_if_reject before rbl, which has action: tag"}},
		{name: "warn_if_reject twice", input: "client: [warn_if_reject, warn_if_reject, reject]",
			wantErrs: []string{"client[1]: warn_if_reject follows warn_if_reject"}},

		{name: "unknown name", input: "client: [unknwon_client_hostname]",
			wantErrs: []string{`client[0]: unknown restriction "unknwon_client_hostname" (did you mean "unknown_client_hostname"?); known restrictions: access, client_access,`}},
		{name: "unknown postfix-prefixed name", input: "helo: [reject_invalid_helo]",
			wantErrs: []string{`helo[0]: unknown restriction "reject_invalid_helo" (did you mean "invalid_helo_hostname"?)`}},
		{name: "unknown name without suggestion", input: "client: [frobnicate]",
			wantErrs: []string{`client[0]: unknown restriction "frobnicate"; known restrictions: access, client_access,`}},
		{name: "postfix only", input: "recipient: [reject_unauth_destination]",
			wantErrs: []string{"recipient[0]: reject_unauth_destination is a Postfix restriction that mxguard does not implement; keep it in main.cf"}},
		{name: "planned", input: "recipient: [greylist]",
			wantErrs: []string{"recipient[0]: greylist is planned but not implemented in this version"}},
		{name: "missing table", input: "client: [check_client_access]",
			wantErrs: []string{"client[0]: check_client_access needs a table; write - client_access: hash:/etc/postfix/client_access"}},
		{name: "missing zone", input: "client: [{rbl: {action: warn}}]",
			wantErrs: []string{"client[0]: rbl needs a DNS list zone"}},
		{name: "extra argument", input: "client: [unknown_client_hostname hash:/a]",
			wantErrs: []string{`client[0]: unknown_client_hostname takes no argument, but has "hash:/a"`}},
		{name: "extra argument in a mapping", input: "client: [{permit_mynetworks: yes}]",
			wantErrs: []string{`client[0]: permit_mynetworks takes no argument, but has "yes"`}},
		{name: "inline table", input: "client:\n  - 'check_client_access inline:{ 192.0.2.1=OK, 192.0.2.2=REJECT }'\n  - client_access: 'inline:{a=OK, b=OK}'\n",
			want: []Restriction{
				{Name: "client_access", Given: "check_client_access", Arg: "inline:{ 192.0.2.1=OK, 192.0.2.2=REJECT }", Key: "client[0]"},
				{Name: "client_access", Given: "client_access", Arg: "inline:{a=OK, b=OK}", Key: "client[1]"},
			}},
		{name: "table without type", input: "client: [{access: /etc/postfix/client_access}]",
			wantErrs: []string{`client[0]: "/etc/postfix/client_access" is not a table; name it as Postfix does, type:name`}},
		{name: "bad zone", input: "client: [{rbl: zen}]",
			wantErrs: []string{`client[0]: "zen" is not a DNS list zone`}},
		{name: "bad filter", input: "client: [{rbl: zen.spamhaus.org=127.0.0}, {dnswl: 'list.dnswl.org=127.0.[0..255].[3..1]'}]",
			wantErrs: []string{`client[0]: reply filter "127.0.0" does not have four parts`, `client[1]: reply filter "127.0.[0..255].[3..1]": "[3..1]" is not`}},
		{name: "too many words", input: "client: ['check_client_access hash:/a hash:/b']",
			wantErrs: []string{`client[0]: "check_client_access hash:/a hash:/b" has more than one argument`}},
		{name: "comma in an item", input: "client: ['permit_mynetworks, reject']",
			wantErrs: []string{`client[0]: "permit_mynetworks, reject" holds more than one restriction`}},
		{name: "empty item", input: "client:\n  -\n  - ''\n",
			wantErrs: []string{"client[0]: empty list item", "client[1]: empty list item"}},
		{name: "list item", input: "client: [[a, b]]",
			wantErrs: []string{"client[0]: must be a restriction name or a mapping, not a list"}},
		{name: "list value", input: "client: [{rbl: [a.example, b.example]}]",
			wantErrs: []string{"client[0]: the value of rbl must be an argument or a mapping of options, not a list"}},
		{name: "two names", input: "client: [{permit_mynetworks: , reject: }]",
			wantErrs: []string{"client[0]: names more than one restriction: permit_mynetworks, reject"}},
		{name: "no name", input: "client: [{action: warn}]",
			wantErrs: []string{"client[0]: names no restriction"}},
		{name: "misspelt option beside the name", input: "client:\n  - access: hash:/a\n    acton: warn\n",
			wantErrs: []string{`client[0].acton: unknown option "acton" (did you mean "action"?)`}},
		{name: "misspelt option", input: "client: [{unknown_client_hostname: {actoin: warn}}]",
			wantErrs: []string{`client[0].actoin: unknown option "actoin" (did you mean "action"?)`}},
		{name: "argument twice", input: "client: [{access: {table: 'hash:/a', arg: 'hash:/b'}}]",
			wantErrs: []string{"the argument is given twice"}},
		{name: "option twice", input: "client:\n  - access: {table: 'hash:/a', action: warn}\n    action: reject\n",
			wantErrs: []string{"client[0].action: given twice"}},
		{name: "option not a scalar", input: "client: [{unknown_client_hostname: {text: [a]}}]",
			wantErrs: []string{"client[0].text: must be a single value, not a list"}},

		{name: "bad action", input: "client: [{unknown_client_hostname: {action: rejet, temperror: bounce}}]",
			wantErrs: []string{
				`client[0].action: "rejet" is not one of reject, tempfail, defer_if_permit, quarantine, tag, warn, accept, off (did you mean "reject"?)`,
				`client[0].temperror: "bounce" is not one of`}},
		{name: "every action", input: "client: [{reject: {action: reject}}, {reject: {action: tempfail}}, {reject: {action: defer_if_permit}}, {reject: {action: quarantine}}, {reject: {action: tag}}, {reject: {action: warn}}, {reject: {action: accept}}, {reject: {action: 'off'}}]"},
		{name: "temperror reject", input: "client: [{unknown_client_hostname: {temperror: reject}}]",
			wantErrs: []string{"client[0].temperror: a temporary DNS failure must not be answered with a permanent rejection"}},
		{name: "code not a number", input: "client: [{reject: {code: five}}]",
			wantErrs: []string{`client[0].code: "five" is not a reply code`}},
		{name: "code out of range", input: "client: [{reject: {code: 250}}, {reject: {code: 600}}]",
			wantErrs: []string{"client[0].code: 250 is not a 4xx or 5xx reply code", "client[1].code: 600 is not"}},
		{name: "5xx with tempfail", input: "client: [{reject: {action: tempfail, code: 550}}]",
			wantErrs: []string{"client[0].code: 550 is a permanent code, but action: tempfail is temporary"}},
		{name: "enhanced mismatch", input: "client: [{reject: {code: 550, enhanced: 4.7.1}}]",
			wantErrs: []string{`client[0].enhanced: "4.7.1" does not match code 550; the first digits must agree, e.g. 550 with 5.7.1`}},
		{name: "enhanced bad", input: "client: [{reject: {enhanced: 5.7}}, {reject: {enhanced: 2.0.0}}]",
			wantErrs: []string{`client[0].enhanced: "5.7" is not an RFC 3463 status code`, `client[1].enhanced: "2.0.0" is not`}},
		{name: "text with a newline", input: "client: [{reject: {text: \"a\\nb\"}}]",
			wantErrs: []string{"client[0].text: the reply text must be printable ASCII on one line"}},

		{name: "placement with delay_reject", input: "client: [check_sender_access hash:/a, reject_non_fqdn_recipient, rhsbl_helo zen.example]"},
		{name: "placement without delay_reject", input: "delay_reject: false\nclient: [check_sender_access hash:/a, reject_non_fqdn_recipient, reject_invalid_helo_hostname, permit_mynetworks, access hash:/a, reject]\nhelo: [invalid_helo_hostname, rbl zen.example, non_fqdn_sender]\nsender: [non_fqdn_sender, helo_impersonation, recipient_access hash:/r]\nrecipient: [non_fqdn_recipient, sender_access hash:/s, fcrdns]",
			wantErrs: []string{
				"client[0]: check_sender_access needs the MAIL FROM address, which is not known yet in client with delay_reject: false; move it to sender: or recipient:, or set delay_reject: true",
				"client[1]: reject_non_fqdn_recipient needs the RCPT TO address",
				"client[2]: reject_invalid_helo_hostname needs the HELO name",
				"helo[2]: non_fqdn_sender needs the MAIL FROM address, which is not known yet in helo",
				"sender[2]: recipient_access needs the RCPT TO address, which is not known yet in sender with delay_reject: false; move it to recipient:, or",
			}},

		{name: "class reference", input: "classes:\n  Strict: [fcrdns, helo_impersonation]\nrecipient: [strict, {strict: {action: warn}}]", list: "recipient",
			want: []Restriction{
				{Name: "strict", Given: "strict", Class: true, Key: "recipient[0]"},
				{Name: "strict", Given: "strict", Class: true, Action: "warn", Key: "recipient[1]"},
			}},
		{name: "class contents", input: "classes:\n  strict: [fcrdns, {helo_impersonation: {action: tag}}]", list: "classes.strict",
			want: []Restriction{
				{Name: "unknown_client_hostname", Given: "fcrdns", Key: "classes.strict[0]"},
				{Name: "helo_impersonation", Given: "helo_impersonation", Action: "tag", Key: "classes.strict[1]"},
			}},
		{name: "empty class", input: "classes:\n  nothing: []\n  empty:\nrecipient: [nothing, empty]"},
		{name: "class with an argument", input: "classes: {strict: [reject]}\nrecipient: ['strict hash:/a']",
			wantErrs: []string{`recipient[0]: class strict takes no argument, but has "hash:/a"`}},
		{name: "undefined class", input: "classes: {strict: [reject]}\nrecipient: [strickt]",
			wantErrs: []string{`recipient[0]: unknown restriction "strickt" (did you mean "strict"?)`}},
		{name: "class cycle", input: "classes:\n  a: [b]\n  b: [c]\n  c: [a]\n  d: [d]\n  e: [a]\n",
			wantErrs: []string{"classes.a: classes refer to each other in a cycle: a → b → c → a", "classes.d: classes refer to each other in a cycle: d → d"}},
		{name: "class name collides", input: "classes:\n  reject: [permit]\n  fcrdns: [permit]\n",
			wantErrs: []string{`classes.fcrdns: class name "fcrdns" is also the name of a restriction`, `classes.reject: class name "reject" is also`}},
		{name: "class name with a dot", input: "classes:\n  a.b: [permit]\n",
			wantErrs: []string{`classes.a.b: "a.b" is not a valid class name`}},
		{name: "class not a list", input: "classes:\n  a: {permit: x}\n",
			wantErrs: []string{"classes.a: must be a restriction list, not a mapping"}},
		{name: "classes not a mapping", input: "classes: [a]\n",
			wantErrs: []string{"classes: must be a mapping of class names to restriction lists, not a list"}},
		{name: "plain access in a class", input: "classes:\n  a: [access hash:/a, client_access hash:/b]\n",
			wantErrs: []string{"classes.a[0]: a class cannot use plain access"}},
		{name: "class placement without delay_reject", input: "delay_reject: false\nclasses:\n  a: [b, non_fqdn_recipient]\n  b: [sender_access hash:/s, fcrdns]\nclient: [a]\nsender: [b]",
			wantErrs: []string{
				"classes.a[1]: non_fqdn_recipient needs the RCPT TO address, which is not known yet in client (through class a)",
				"classes.b[0]: sender_access needs the MAIL FROM address, which is not known yet in client (through class b)",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.input)
			checkProblems(t, lines(err), tc.wantErrs)
			if err != nil {
				return
			}
			var got []string
			for _, w := range c.Warnings {
				got = append(got, w.Error())
			}
			checkProblems(t, got, tc.warnings)
			if tc.want == nil {
				return
			}
			var list []Restriction
			switch {
			case tc.list == "" || tc.list == "client":
				list = c.Client
			case strings.HasPrefix(tc.list, "classes."):
				list = c.Classes[strings.TrimPrefix(tc.list, "classes.")]
			default:
				list = *c.list(tc.list)
			}
			if !reflect.DeepEqual(list, tc.want) {
				t.Errorf("got\n  %+v\nwant\n  %+v", list, tc.want)
			}
		})
	}
}

// TestValidateByHand checks Validate on a Config built in Go, as other
// packages' tests do.
func TestValidateByHand(t *testing.T) {
	c := Default()
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("default: %v", ps)
	}
	c.Client = append(c.Client,
		Restriction{Name: "check_client_access", Arg: "hash:/a"}, // an alias is fine
		Restriction{Name: "nope"},
		Restriction{Name: "strict", Class: true},
	)
	var got []string
	for _, p := range c.Validate() {
		got = append(got, p.Error())
	}
	checkProblems(t, got, []string{
		`default.yml (embedded): client[3]: unknown restriction "nope"`,
		`default.yml (embedded): client[4]: class "strict" is not defined; define it under classes:`,
	})
}

func TestRestrictionString(t *testing.T) {
	for _, tc := range []struct {
		r    Restriction
		want string
	}{
		{Restriction{Name: "rbl", Arg: "zen.spamhaus.org"}, "rbl zen.spamhaus.org"},
		{Restriction{Name: "reject"}, "reject"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if n := KnownRestrictions(); len(n) != len(names) || n[0] != "access" {
		t.Errorf("KnownRestrictions: %v", n)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		s, want string
		ok      bool
	}{
		{"dns.servrs", "dns.servers", true},
		{"unknwon_client_hostname", "unknown_client_hostname", true},
		{"warning", "warn", true},
		{"zzz", "", false},
		{"listenx", "listen", true},
	} {
		got, ok := nearest(tc.s, append(allKeys(), "unknown_client_hostname", "warn", "info"))
		if got != tc.want || ok != tc.ok {
			t.Errorf("nearest(%q) = %q %v, want %q %v", tc.s, got, ok, tc.want, tc.ok)
		}
	}
	if d := levenshtein("unknwon", "unknown"); d != 1 {
		t.Errorf("a swap is %d edits", d)
	}
}
