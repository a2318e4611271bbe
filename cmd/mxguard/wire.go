package main

import (
	"io"
	"log/slog"

	"github.com/mxguard/mxguard/checks/pipeline"
	"github.com/mxguard/mxguard/config"
	"github.com/mxguard/mxguard/dmarc"
	"github.com/mxguard/mxguard/internal/metrics"
	"github.com/mxguard/mxguard/resolver"
)

// newLogger builds the logger of cfg.Log: logfmt (slog's text handler) or
// JSON, to w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	switch cfg.Log.Level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if r := secretZones(cfg); r != nil {
		h = redactHandler{h, r}
	}
	return slog.New(h)
}

func newResolver(cfg *config.Config, log *slog.Logger, met *metrics.Metrics) (*resolver.Client, error) {
	var hook resolver.MetricsFunc
	if met != nil {
		hook = met.DNS
	}
	size := cfg.DNS.CacheSize
	if size == 0 {
		size = -1 // config: 0 disables the cache; resolver: -1 does
	}
	return resolver.New(resolver.Config{
		Servers:   cfg.DNS.Servers,
		Timeout:   cfg.DNS.Timeout,
		Attempts:  cfg.DNS.Attempts,
		CacheSize: size,
		Logger:    log,
		Metrics:   hook,
	})
}

// newEngine builds the restriction engine of cfg.
func newEngine(cfg *config.Config, log *slog.Logger) (*pipeline.Engine, error) {
	return pipeline.FromConfig(cfg, log)
}

// newAuth builds the end-of-data authentication configuration.
func newAuth(cfg *config.Config) *dmarc.Config { return dmarc.FromConfig(cfg) }
