package config

import (
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		name        string
		input       string
		wantNetwork string
		wantAddress string
		wantErr     string
	}{
		{name: "inet4", input: "inet:127.0.0.1:8891", wantNetwork: "tcp", wantAddress: "127.0.0.1:8891"},
		{name: "inet6", input: "inet:[::1]:8891", wantNetwork: "tcp", wantAddress: "[::1]:8891"},
		{name: "inet any", input: "inet:0.0.0.0:8891", wantNetwork: "tcp", wantAddress: "0.0.0.0:8891"},
		{name: "inet name", input: "inet:localhost:8891", wantNetwork: "tcp", wantAddress: "localhost:8891"},
		{name: "unix", input: "unix:/run/mxguard/mxguard.sock", wantNetwork: "unix", wantAddress: "/run/mxguard/mxguard.sock"},
		{name: "unix relative", input: "unix:var/mxguard.sock", wantNetwork: "unix", wantAddress: "var/mxguard.sock"},
		{name: "no port", input: "inet:127.0.0.1", wantErr: "is not inet:host:port"},
		{name: "port name", input: "inet:127.0.0.1:milter", wantErr: `port "milter" is not a number`},
		{name: "bad host", input: "inet:exa mple:1", wantErr: "is neither an address nor a host name"},
		{name: "local", input: "local:/run/x", wantErr: "write unix: instead of local:"},
		{name: "tcp", input: "tcp:127.0.0.1:8891", wantErr: "is not a milter address; write inet:127.0.0.1:8891"},
		{name: "empty", input: "", wantErr: "is not a milter address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, a, err := ParseListen(tc.input)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.wantNetwork || a != tc.wantAddress {
				t.Errorf("got %q %q %v", n, a, err)
			}
		})
	}
}

func TestCheckDNSList(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{name: "zone", input: "zen.spamhaus.org"},
		{name: "absolute zone", input: "zen.spamhaus.org."},
		{name: "address", input: "zen.spamhaus.org=127.0.0.2"},
		{name: "range", input: "zen.spamhaus.org=127.0.0.[2..11]"},
		{name: "ranges and lists", input: "list.dnswl.org=127.0.[0..255].[1;3..4;9]"},
		{name: "underscore", input: "_bl.example.org"},
		{name: "single label", input: "localhost", wantErr: `"localhost" is not a DNS list zone`},
		{name: "empty zone", input: "=127.0.0.2", wantErr: `"" is not a DNS list zone`},
		{name: "five parts", input: "bl.example=127.0.0.2.1", wantErr: "does not have four parts"},
		{name: "octet too big", input: "bl.example=127.0.0.256", wantErr: `"256" is not a number from 0 to 255`},
		{name: "reversed range", input: "bl.example=127.0.0.[9..2]", wantErr: `"[9..2]"`},
		{name: "empty brackets", input: "bl.example=127.0.0.[]", wantErr: `"[]"`},
		{name: "unclosed bracket", input: "bl.example=127.0.0.[2..9", wantErr: `"[2..9"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, _ := checkDNSList(tc.input)
			if tc.wantErr == "" && msg != "" || !strings.Contains(msg, tc.wantErr) {
				t.Errorf("got %q, want %q", msg, tc.wantErr)
			}
		})
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct {
		input string
		want  string // "" for invalid
	}{
		{"192.0.2.1", "192.0.2.1:53"},
		{"192.0.2.1:5353", "192.0.2.1:5353"},
		{"::1", "[::1]:53"},
		{"[::1]", "[::1]:53"},
		{"[2001:db8::1]:5353", "[2001:db8::1]:5353"},
		{" 192.0.2.1 ", "192.0.2.1:53"},
		{"dns.google", ""},
		{"dns.google:53", ""},
		{"192.0.2.1:0", ""},
		{"192.0.2.1:99999", ""},
		{"", ""},
	}
	for _, tc := range tests {
		ap, ok := parseServer(tc.input)
		got := ""
		if ok {
			got = ap.String()
		}
		if got != tc.want {
			t.Errorf("parseServer(%q) = %q, want %q", tc.input, got, tc.want)
		}
	}
}

func TestValidHostname(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"mx.example.net", true},
		{"mx.example.net.", true},
		{"localhost", true},
		{"xn--bcher-kva.example", true},
		{"-mx.example", false},
		{"mx-.example", false},
		{"mx..example", false},
		{"mx_1.example", false},
		{strings.Repeat("a", 64) + ".example", false},
		{"", false},
		{".", false},
	} {
		if got := validHostname(tc.s); got != tc.want {
			t.Errorf("validHostname(%q) = %v", tc.s, got)
		}
	}
}
