package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		s, err := Open("memory", "")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, ok := s.(*Memory); !ok {
			t.Fatalf("Open(memory) = %T", s)
		}
		mustPut(t, s, "b", "k", "v", 0)
		mustGet(t, s, "b", "k", "v", true)
	})

	t.Run("bolt", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state", "mxguard") // does not exist yet
		s, err := Open("bolt", dir)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := s.(*Bolt)
		if !ok {
			s.Close()
			t.Fatalf("Open(bolt) = %T", s)
		}
		mustPut(t, s, "b", "k", "v", 0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, BoltFile); b.Path() != want {
			t.Errorf("file %s, want %s", b.Path(), want)
		}
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, BoltFile): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s has mode %v, want %v", path, got, want)
			}
		}
		// Reopened through Open, the value is there.
		s, err = Open("bolt", dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		mustGet(t, s, "b", "k", "v", true)
	})

	t.Run("bolt without a state directory", func(t *testing.T) {
		_, err := Open("bolt", " ")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "state_dir") {
			t.Fatalf("err = %v, want ErrInvalid naming state_dir", err)
		}
	})

	t.Run("bolt with an unusable state directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open("bolt", file); err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("err = %v, want an error naming %s", err, file)
		}
	})

	for _, spec := range []string{"redis://:s3cret@localhost:6379/0", "rediss://user:s3cret@redis.example:6380/1"} {
		t.Run(spec, func(t *testing.T) {
			_, err := Open(spec, t.TempDir())
			if !errors.Is(err, ErrNotImplemented) {
				t.Fatalf("err = %v, want ErrNotImplemented", err)
			}
			if !strings.Contains(err.Error(), "not implemented yet") || !strings.Contains(err.Error(), "redis") {
				t.Errorf("err = %q, want it to say redis is not implemented yet", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err = %q repeats the URL's password", err)
			}
		})
	}

	for _, spec := range []string{"", "bbolt", "Bolt", "mem", "redis", "postgres://db/mx", " memory"} {
		t.Run("garbage "+spec, func(t *testing.T) {
			_, err := Open(spec, t.TempDir())
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("err = %v, want ErrSpec", err)
			}
			for _, hint := range []string{"bolt", "memory", "redis://"} {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("err = %q lacks the hint %q", err, hint)
				}
			}
		})
	}
}
