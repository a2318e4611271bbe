package checks_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxguard/mxguard/checks"
)

func TestNewEnvAndScopes(t *testing.T) {
	env := checks.NewEnv(nil, nil)
	if env.Log == nil || env.Now == nil || env.Macros == nil {
		t.Fatalf("NewEnv left defaults unset: %+v", env)
	}
	env.Addr = netip.MustParseAddr("192.0.2.1")
	env.Helo, env.HeloSeen = "mx.example", true
	env.QueueID, env.MailSeen, env.Mail, env.Rcpt, env.Rcpts = "ABC", true, "a@example", "b@example", []string{"b@example"}
	env.DeferClient, env.DeferHelo = &checks.Result{Check: "client"}, &checks.Result{Check: "helo"}
	env.DeferSender, env.Discarded = &checks.Result{Check: "sender"}, true
	env.ResetTransaction()
	if env.QueueID != "" || env.MailSeen || env.Mail != "" || env.Rcpt != "" || env.Rcpts != nil ||
		env.DeferSender != nil || env.Discarded {
		t.Errorf("ResetTransaction kept transaction data: %+v", env)
	}
	if env.Addr.String() != "192.0.2.1" || env.Helo != "mx.example" || !env.HeloSeen ||
		env.DeferClient == nil || env.DeferHelo == nil {
		t.Errorf("ResetTransaction dropped connection data: %+v", env)
	}

	macro := func(name, want string) {
		t.Helper()
		if got := env.Macro(name); got != want {
			t.Errorf("Macro(%q) = %q, want %q", name, got, want)
		}
	}
	env.MergeMacros(map[string]string{"i": "4XyZ", "{auth_authen}": "alice", "j": "mx.local", "{client_ptr}": "ptr.example"})
	if env.QueueID != "4XyZ" || env.AuthUser != "alice" {
		t.Errorf("MergeMacros: queue id %q auth %q", env.QueueID, env.AuthUser)
	}
	macro("auth_authen", "alice")
	macro("{auth_authen}", "alice")
	macro("j", "mx.local")
	macro("client_ptr", "ptr.example")
	macro("missing", "")
	// A later stage without {auth_authen} keeps the login; an explicit empty
	// value clears it.
	env.MergeMacros(map[string]string{"{rcpt_addr}": "b@example"})
	if env.AuthUser != "alice" {
		t.Errorf("AuthUser lost: %q", env.AuthUser)
	}
	env.MergeMacros(map[string]string{"{auth_authen}": ""})
	if env.AuthUser != "" {
		t.Errorf("AuthUser not cleared: %q", env.AuthUser)
	}
}

func TestMemo(t *testing.T) {
	t.Run("computed once", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		var calls atomic.Int32
		fn := func(context.Context) (any, error) { return int(calls.Add(1)), nil }
		test := func(key string, want int) {
			t.Helper()
			v, err := env.Memo(context.Background(), key, time.Second, fn)
			if err != nil || v.(int) != want {
				t.Errorf("Memo(%q) = %v, %v; want %d", key, v, err, want)
			}
		}
		test("a", 1)
		test("a", 1)
		test("b", 2)
		test("a", 1)
		env.ForgetMemo("a")
		test("a", 3)
		test("b", 2)
		env.ForgetMemo("never-set") // no-op
		if n := calls.Load(); n != 3 {
			t.Errorf("fn ran %d times, want 3", n)
		}
	})

	t.Run("an error is memoized too", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		errDNS := errors.New("dns down")
		var calls atomic.Int32
		for range 3 {
			_, err := env.Memo(context.Background(), "k", time.Second, func(context.Context) (any, error) {
				calls.Add(1)
				return nil, errDNS
			})
			if !errors.Is(err, errDNS) {
				t.Errorf("err = %v, want %v", err, errDNS)
			}
		}
		if calls.Load() != 1 {
			t.Errorf("fn ran %d times", calls.Load())
		}
	})

	t.Run("concurrent callers share one computation", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		const n = 16
		var calls atomic.Int32
		release := make(chan struct{})
		fn := func(context.Context) (any, error) {
			calls.Add(1)
			<-release
			return "value", nil
		}
		var started, done sync.WaitGroup
		results := make([]any, n)
		errs := make([]error, n)
		for i := range n {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				started.Done()
				results[i], errs[i] = env.Memo(context.Background(), "k", time.Minute, fn)
			}()
		}
		started.Wait()
		close(release)
		done.Wait()
		for i := range n {
			if results[i] != "value" || errs[i] != nil {
				t.Errorf("caller %d: %v, %v", i, results[i], errs[i])
			}
		}
		if calls.Load() != 1 {
			t.Errorf("fn ran %d times, want 1", calls.Load())
		}
	})

	t.Run("a caller whose ctx ends returns while the computation goes on", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		release := make(chan struct{})
		fnCtxErr := make(chan error, 1)
		var calls atomic.Int32
		fn := func(ctx context.Context) (any, error) {
			calls.Add(1)
			<-release
			fnCtxErr <- ctx.Err() // the caller's cancellation must not reach fn
			return "late", nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		v, err := env.Memo(ctx, "k", time.Minute, fn)
		if v != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, %v; want nil, context.Canceled", v, err)
		}
		// A second impatient caller does not start another computation.
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel2()
		if _, err := env.Memo(ctx2, "k", time.Minute, fn); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second caller: %v, want context.DeadlineExceeded", err)
		}
		close(release)
		if err := <-fnCtxErr; err != nil {
			t.Errorf("fn's context ended with the caller's: %v", err)
		}
		v, err = env.Memo(context.Background(), "k", time.Minute, fn)
		if v != "late" || err != nil {
			t.Errorf("patient caller got %v, %v; want late, nil", v, err)
		}
		if calls.Load() != 1 {
			t.Errorf("fn ran %d times, want 1", calls.Load())
		}
	})

	t.Run("fn is bounded by its own timeout", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		v, err := env.Memo(context.Background(), "k", 20*time.Millisecond, func(ctx context.Context) (any, error) {
			if _, ok := ctx.Deadline(); !ok {
				return nil, errors.New("no deadline")
			}
			<-ctx.Done()
			return nil, ctx.Err()
		})
		if v != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, %v; want nil, context.DeadlineExceeded", v, err)
		}
	})

	t.Run("a panicking fn becomes a PanicError", func(t *testing.T) {
		env := checks.NewEnv(nil, nil)
		var calls atomic.Int32
		fn := func(context.Context) (any, error) {
			calls.Add(1)
			panic("kaboom")
		}
		for range 2 {
			v, err := env.Memo(context.Background(), "k", time.Second, fn)
			var pe *checks.PanicError
			if v != nil || !errors.As(err, &pe) || pe.Value != "kaboom" {
				t.Fatalf("got %v, %v; want a *PanicError with kaboom", v, err)
			}
			if err.Error() != "panic in check: kaboom" {
				t.Errorf("Error() = %q", err.Error())
			}
		}
		if calls.Load() != 1 {
			t.Errorf("fn ran %d times, want 1", calls.Load())
		}
	})
}
