package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/internal/metrics"
	"github.com/mxguard/mxguard/milter"
	"github.com/mxguard/mxguard/resolver"
	"github.com/mxguard/mxguard/store"
)

// drainTimeout bounds how long SIGTERM waits for open sessions.
const drainTimeout = 60 * time.Second

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &exitError{2, err}
	}
	return cfg, nil
}

func cmdServe(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpath := fs.String("c", "", "configuration `file` (default: the embedded configuration)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	cfg, err := loadConfig(*cpath)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	// go-milter logs protocol faults (garbage on the socket) with the
	// standard logger: route them to ours.
	log.SetFlags(0)
	log.SetOutput(slogWriter{logger})
	for _, w := range cfg.Warnings {
		logger.Warn("configuration", "problem", w.Error())
	}
	var (
		srv *milter.Server
		met *metrics.Metrics
	)
	if cfg.Metrics.Listen != "" {
		met = metrics.New(func() float64 { return float64(srv.Active()) })
	}
	res, err := newResolver(cfg, logger, met)
	if err != nil {
		return &exitError{2, err}
	}
	eng, err := newEngine(cfg, logger)
	if err != nil {
		return &exitError{2, err}
	}
	var cur atomic.Pointer[pipeline.Engine]
	cur.Store(eng)
	// The DNS lists' RFC 5782 health checks run at start and every
	// healthInterval, for the engine in use (restarted on reload).
	stopHealth := startHealth(eng, res, met)
	defer func() { stopHealth() }()
	var curAuth atomic.Pointer[dmarc.Config]
	curAuth.Store(newAuth(cfg))

	ln, err := milter.Listen(cfg.Listen, cfg.SocketPerm())
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	st, err := store.Open(cfg.Store, cfg.StateDir)
	if err != nil {
		ln.Close()
		return &exitError{2, fmt.Errorf("store %q (state_dir %s): %w", cfg.Store, cfg.StateDir, err)}
	}
	defer st.Close()
	srv = &milter.Server{Engine: cur.Load, Auth: curAuth.Load, Resolver: res, Log: logger, Store: st}
	if met != nil {
		srv.OnVerdict = met.Outcome
		srv.OnAuth = met.Auth
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		addr, err := met.Serve(ctx, cfg.Metrics.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
		logger.Info("metrics", "listen", addr.String())
	}
	logger.Info("mxguard started", "version", versionString(), "listen", cfg.Listen,
		"config", cfg.File(), "dns", res.Servers())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for {
		select {
		case err := <-served:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if reload(*cpath, cfg, &cur, &curAuth, logger, met) {
					stopHealth()
					stopHealth = startHealth(cur.Load(), res, met)
				}
				continue
			}
			logger.Info("shutting down: waiting for open sessions", "signal", sig.String(), "sessions", srv.Active())
			ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				logger.Warn("shutdown", "err", err)
			}
			logger.Info("mxguard stopped")
			return nil
		}
	}
}

// reload re-reads the configuration and tables and swaps the engine; a bad
// configuration keeps the old one running and says why.
func reload(path string, old *config.Config, cur *atomic.Pointer[pipeline.Engine], curAuth *atomic.Pointer[dmarc.Config],
	logger *slog.Logger, met *metrics.Metrics) bool {
	cfg, err := config.Load(path)
	if err == nil {
		var eng *pipeline.Engine
		if eng, err = newEngine(cfg, logger); err == nil {
			cur.Store(eng)
			curAuth.Store(newAuth(cfg))
			if met != nil {
				met.Reload(true) // before the log line, which tests wait for
			}
			if cfg.Listen != old.Listen || !equalStrings(cfg.DNS.Servers, old.DNS.Servers) {
				logger.Warn("reload: listen and dns settings take effect at the next restart")
			}
			logger.Info("configuration reloaded", "config", cfg.File())
			return true
		}
	}
	if met != nil {
		met.Reload(false)
	}
	logger.Error("reload failed, keeping the running configuration", "err", err)
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("milter protocol", "msg", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

// healthInterval is how often the DNS lists are health-checked.
const healthInterval = 10 * time.Minute

// startHealth runs eng's DNS list health checks in the background until
// the returned function is called.
func startHealth(eng *pipeline.Engine, res resolver.Resolver, met *metrics.Metrics) func() {
	h := eng.Health()
	if h == nil {
		return func() {}
	}
	h.Resolver = res
	if met != nil {
		h.Report = met.ListHealth
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.Run(ctx, healthInterval)
	return cancel
}
