package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/mxguard/mxguard/config"
)

// secretZones returns a replacer that swaps the zone of every DNS list
// configured with a public name (a Spamhaus DQS zone holds the access
// key) for that name, so that no log line shows the key: the resolver's
// own debug lines carry full query names.
func secretZones(cfg *config.Config) *strings.Replacer {
	var pairs []string
	add := func(rs []config.Restriction) {
		for _, r := range rs {
			name := r.Options["name"]
			if name == "" || r.Arg == "" {
				continue
			}
			zone, _, _ := strings.Cut(r.Arg, "=")
			zone, _, _ = strings.Cut(zone, "*")
			zone = strings.TrimSuffix(zone, ".")
			if zone != "" && !strings.EqualFold(zone, name) {
				pairs = append(pairs, zone, name, strings.ToLower(zone), name)
			}
		}
	}
	for _, l := range [][]config.Restriction{cfg.Client, cfg.Helo, cfg.Sender, cfg.Recipient} {
		add(l)
	}
	for _, l := range cfg.Classes {
		add(l)
	}
	if len(pairs) == 0 {
		return nil
	}
	return strings.NewReplacer(pairs...)
}

// redactHandler rewrites the message and every string attribute of a
// record through a replacer before handing it on.
type redactHandler struct {
	slog.Handler
	r *strings.Replacer
}

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Replace(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Replace(v.String()))
	case slog.KindGroup:
		var as []any
		for _, g := range v.Group() {
			as = append(as, h.attr(g))
		}
		return slog.Group(a.Key, as...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.r.Replace(err.Error()))
		}
		return slog.String(a.Key, h.r.Replace(v.String()))
	}
	return a
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return redactHandler{h.Handler.WithAttrs(out), h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.Handler.WithGroup(name), h.r}
}
