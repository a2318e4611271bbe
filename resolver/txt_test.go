package resolver

import "testing"

func TestUnescapeTXT(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		if got := unescapeTXT(in); got != want {
			t.Errorf("unescapeTXT(%q) = %q, want %q", in, got, want)
		}
	}
	test(`v=spf1 -all`, `v=spf1 -all`)
	test(`say \"hi\"`, `say "hi"`)
	test(`back\\slash`, `back\slash`)
	test(`\195\169t\195\169`, "été")
	test(`\;semi`, `;semi`)
	test(`trailing\`, `trailing\`)
	test(`\999`, `999`)
}
