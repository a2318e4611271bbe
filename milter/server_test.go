package milter

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseListen(t *testing.T) {
	test := func(spec, network, addr string, ok bool) {
		t.Helper()
		n, a, err := ParseListen(spec)
		if (err == nil) != ok || n != network || a != addr {
			t.Errorf("ParseListen(%q) = %q, %q, %v; want %q, %q, ok=%v", spec, n, a, err, network, addr, ok)
		}
	}
	test("inet:127.0.0.1:8891", "tcp", "127.0.0.1:8891", true)
	test("inet:[::1]:8891", "tcp", "[::1]:8891", true)
	test("inet:8891", "tcp", ":8891", true)
	test("inet6:[::1]:25", "tcp", "[::1]:25", true)
	test("127.0.0.1:8891", "tcp", "127.0.0.1:8891", true)
	test("unix:/run/mxguard/mxguard.sock", "unix", "/run/mxguard/mxguard.sock", true)
	test("local:/tmp/x.sock", "unix", "/tmp/x.sock", true)
	test("unix:", "", "", false)
	test("inet:127.0.0.1", "", "", false)
	test("inet:127.0.0.1:99999", "", "", false)
	test("inet:127.0.0.1:http", "", "", false)
}

func TestListenUnixSocketMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mx.sock")
	// A stale socket file from an unclean stop must not prevent the bind.
	ln, err := Listen("unix:"+p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want socket 0640", fi.Mode())
	}
	// Simulate a crash: the file stays behind.
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen("unix:"+p, 0o660)
	if err != nil {
		t.Fatalf("rebinding over a stale socket: %v", err)
	}
	ln2.Close()
	// A regular file in the way is not removed.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o600)
	if _, err := Listen("unix:"+f, 0o660); err == nil {
		t.Error("Listen replaced a regular file")
	}
}
