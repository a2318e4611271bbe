package config

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzLoad feeds arbitrary YAML to the loader. It must not panic; an
// invalid configuration must come back as *Errors with at least one
// problem; a valid one must print as YAML that loads back to the same
// configuration. The seed corpus is in testdata/fuzz/FuzzLoad.
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 20s ./config/
func FuzzLoad(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("listen: unix:/run/m.sock\nclient: [warn_if_reject, fcrdns]\n"))
	f.Add([]byte("dns: {timeout: 5}\n"))
	f.Add([]byte("classes: {a: [b], b: [a]}\nclient: [a]\n"))
	f.Add([]byte("auth: {spf: {fail: tag, temperror: reject}, dkim: {max_signatures: 51}, dmarc: {override_networks: [192.0.2.7], mode: rfc7489}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yml", data, false)
		if err != nil {
			var e *Errors
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error is not *Errors with problems: %v", err)
			}
			for _, p := range e.Problems {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		c2, err := parse("effective.yml", out, false)
		if err != nil {
			t.Fatalf("effective configuration does not load: %v\ninput:\n%s\neffective:\n%s", err, data, out)
		}
		out2, err := c2.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip differs:\n%s\n---\n%s", out, out2)
		}
	})
}
