package pipeline

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/mxguard/mxguard/config"
)

func restrictions(in []config.Restriction) []Restriction {
	out := make([]Restriction, 0, len(in))
	for _, r := range in {
		out = append(out, Restriction{
			Name: r.Name, Arg: r.Arg, Action: r.Action, TempAction: r.TempAction,
			Code: r.Code, Enhanced: r.Enhanced, Text: r.Text, Options: r.Options,
			Key: r.Key, Class: r.Class,
		})
	}
	return out
}

// FromConfig builds the engine of a loaded configuration.
func FromConfig(cfg *config.Config, log *slog.Logger) (*Engine, error) {
	spec := Spec{
		Trusted:      cfg.TrustedPrefixes(),
		SkipAuth:     cfg.SkipAuthenticated,
		DelayReject:  cfg.DelayReject,
		HeloRequired: cfg.HeloRequired,
		Timeout:      cfg.Timeouts.Check,
		Log:          log,
		Codes: Codes{
			UnknownClientReject:      cfg.Codes.UnknownClientReject,
			UnknownHostnameReject:    cfg.Codes.UnknownHostnameReject,
			UnknownAddressReject:     cfg.Codes.UnknownAddressReject,
			NonFQDNReject:            cfg.Codes.NonFQDNReject,
			InvalidHostnameReject:    cfg.Codes.InvalidHostnameReject,
			AccessMapReject:          cfg.Codes.AccessMapReject,
			AccessMapDefer:           cfg.Codes.AccessMapDefer,
			MapsRBLReject:            cfg.Codes.MapsRBLReject,
			UnknownHeloTempfailAct:   cfg.Codes.UnknownHeloHostnameTempfailAction,
			UnknownAddressTempfailAc: cfg.Codes.UnknownAddressTempfailAction,
		},
		Classes: map[string][]Restriction{},
	}
	spec.Lists[ListClient] = restrictions(cfg.Client)
	spec.Lists[ListHelo] = restrictions(cfg.Helo)
	spec.Lists[ListSender] = restrictions(cfg.Sender)
	spec.Lists[ListRecipient] = restrictions(cfg.Recipient)
	for n, l := range cfg.Classes {
		spec.Classes[n] = restrictions(l)
	}
	spec.LocalNames, spec.LocalAddrs = localIdentity(cfg)
	e, err := New(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File(), err)
	}
	return e, nil
}

// localIdentity returns what a client must not claim in HELO: the
// configured local_names, or by default our host name, localhost and the
// machine's interface addresses.
func localIdentity(cfg *config.Config) (names []string, addrs []netip.Addr) {
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.Unmap())
		} else if s != "" {
			names = append(names, strings.ToLower(strings.TrimSuffix(s, ".")))
		}
	}
	if len(cfg.LocalNames) > 0 {
		for _, n := range cfg.LocalNames {
			add(n)
		}
		return names, addrs
	}
	add(cfg.Hostname)
	if ifs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				addrs = append(addrs, p.Addr().Unmap())
			}
		}
	}
	return names, addrs
}
