// Package config reads, checks and prints mxguard's configuration.
//
// The configuration is YAML read with viper (DESIGN.md §3). Every scalar key
// and every list can be overridden by an environment variable named
// MXGUARD_ plus the key path in upper case with "." replaced by "_"
// (MXGUARD_LISTEN, MXGUARD_DNS_TIMEOUT=2s, MXGUARD_AUTH_SPF_FAIL=tempfail,
// MXGUARD_DNS_SERVERS="127.0.0.2:53 127.0.0.3:53"); list values from the
// environment are split on spaces and commas, and a restriction list from
// the environment is read the way Postfix reads main.cf
// (MXGUARD_CLIENT="reject_unknown_client_hostname, check_client_access
// hash:/etc/postfix/client_access").
//
// Load is strict: unknown keys are errors, and Validate reports every problem
// at once, each with the file (or environment variable), the key path and,
// where it helps, a hint, so that "mxguard config check" can list them all.
//
// The restriction lists (client, helo, sender, recipient, classes) mirror
// Postfix's smtpd_*_restrictions; see Restriction.
package config

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// defaultYAML is the configuration "mxguard serve" runs without -c.
//
//go:embed default.yml
var defaultYAML []byte

// DefaultName is the file name problems in the embedded default report.
const DefaultName = "default.yml (embedded)"

// osHostname is the seam tests use for the machine's name.
var osHostname = os.Hostname

// Config is mxguard's configuration. The mapstructure tags are the YAML keys;
// defaults are in parentheses. A Config returned by Load is valid and
// normalized (see Load).
type Config struct {
	// Listen is where the milter listens, in Postfix's notation
	// (inet:127.0.0.1:8891): inet:host:port, inet:[::1]:port or
	// unix:/path/to/socket. Put the same string in Postfix's smtpd_milters.
	// See ParseListen.
	Listen string `mapstructure:"listen" yaml:"listen"`
	// SocketMode is the permission of a unix socket, an octal string
	// ("0660"). Ignored for inet sockets. See SocketPerm.
	SocketMode string `mapstructure:"socket_mode" yaml:"socket_mode"`
	// Hostname is our own name, used for HELO impersonation checks and as
	// the authserv-id of Authentication-Results (default: the machine's
	// name, os.Hostname).
	Hostname string `mapstructure:"hostname" yaml:"hostname"`
	// LocalNames are names and address literals that a client's HELO must
	// not claim (helo_impersonation). Empty (the default) means Hostname,
	// the machine's interface addresses and localhost; the caller computes
	// that. Load stores IP literals bare ("192.0.2.1") and names in lower
	// case.
	LocalNames []string `mapstructure:"local_names" yaml:"local_names"`
	// DNS configures the resolver.
	DNS DNS `mapstructure:"dns" yaml:"dns"`
	// TrustedNetworks are client networks that skip every check, like
	// Postfix's mynetworks (127.0.0.0/8, ::1/128). Each is a CIDR prefix or
	// a bare address; Load stores them as prefixes. See TrustedPrefixes.
	TrustedNetworks []string `mapstructure:"trusted_networks" yaml:"trusted_networks"`
	// SkipAuthenticated skips every check for SMTP AUTH clients, like
	// permit_sasl_authenticated first in every list (true).
	SkipAuthenticated bool `mapstructure:"skip_authenticated" yaml:"skip_authenticated"`
	// DelayReject answers rejections decided at connect, HELO and MAIL
	// FROM at the first RCPT TO, like Postfix's smtpd_delay_reject (true).
	// With it, any restriction may appear in any list.
	DelayReject bool `mapstructure:"delay_reject" yaml:"delay_reject"`
	// HeloRequired rejects MAIL FROM without a prior HELO/EHLO, like
	// Postfix's smtpd_helo_required (true).
	HeloRequired bool `mapstructure:"helo_required" yaml:"helo_required"`
	// StateDir holds the bbolt store and other state (/var/lib/mxguard;
	// the embedded default uses ./var).
	StateDir string `mapstructure:"state_dir" yaml:"state_dir"`
	// Store is where state that outlives a connection lives (bolt): bolt
	// (a file in StateDir), memory, or redis://[user:password@]host[:port][/db]
	// (rediss:// for TLS).
	Store string `mapstructure:"store" yaml:"store"`
	// Log configures logging.
	Log Log `mapstructure:"log" yaml:"log"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `mapstructure:"metrics" yaml:"metrics"`
	// Timeouts bounds the work of each stage.
	Timeouts Timeouts `mapstructure:"timeouts" yaml:"timeouts"`
	// Codes are Postfix's reply-code parameters, with Postfix's names and
	// defaults, so that values from main.cf carry over.
	Codes Codes `mapstructure:"codes" yaml:"codes"`
	// Auth configures the end-of-data authentication: SPF, DKIM, DMARC
	// and the Authentication-Results header.
	Auth Auth `mapstructure:"auth" yaml:"auth"`

	// Client are the connect-stage restrictions, like
	// smtpd_client_restrictions (empty).
	Client []Restriction `mapstructure:"client" yaml:"client"`
	// Helo are the HELO-stage restrictions, like smtpd_helo_restrictions
	// (empty).
	Helo []Restriction `mapstructure:"helo" yaml:"helo"`
	// Sender are the MAIL FROM-stage restrictions, like
	// smtpd_sender_restrictions (empty).
	Sender []Restriction `mapstructure:"sender" yaml:"sender"`
	// Recipient are the RCPT TO-stage restrictions, like
	// smtpd_recipient_restrictions (empty).
	Recipient []Restriction `mapstructure:"recipient" yaml:"recipient"`
	// Classes are named restriction lists, like smtpd_restriction_classes:
	// a list item (or an access table result) naming a class evaluates
	// the class's list in its place. Class names are lower case.
	Classes map[string][]Restriction `mapstructure:"classes" yaml:"classes,omitempty"`

	// Warnings are the warning-level problems Validate found when Load
	// succeeded (for example timeouts.check at or above Postfix's
	// milter_command_timeout). Not a configuration key.
	Warnings []Problem `mapstructure:"-" yaml:"-"`

	// file is the name problems report; sources maps a key to the
	// environment variable ("$MXGUARD_DNS_TIMEOUT") that set it.
	file    string
	sources map[string]string
}

// DNS configures the resolver.
type DNS struct {
	// Servers are the recursive resolvers to ask, "host:port" or a bare
	// address (port 53). Empty (the default) means the nameservers of
	// /etc/resolv.conf. Load stores them as host:port.
	Servers []string `mapstructure:"servers" yaml:"servers"`
	// Timeout is the time to wait for one answer (5s).
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout"`
	// Attempts is how many times a query is sent before it is a temporary
	// failure (2).
	Attempts int `mapstructure:"attempts" yaml:"attempts"`
	// CacheSize is the number of answers cached; 0 disables the cache
	// (10000).
	CacheSize int `mapstructure:"cache_size" yaml:"cache_size"`
}

// Log configures logging.
type Log struct {
	// Format is logfmt or json (logfmt).
	Format string `mapstructure:"format" yaml:"format"`
	// Level is debug, info, warn or error (info).
	Level string `mapstructure:"level" yaml:"level"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the host:port of the metrics HTTP server; empty (the
	// default) serves no metrics.
	Listen string `mapstructure:"listen" yaml:"listen"`
}

// Timeouts bounds the work of each stage.
type Timeouts struct {
	// Check is the upper bound for one stage's checks (20s). It must stay
	// below Postfix's milter_command_timeout (30s), or Postfix gives up
	// on the milter first and applies milter_default_action.
	Check time.Duration `mapstructure:"check" yaml:"check"`
}

// Codes are Postfix's reply-code parameters (postconf(5)), with Postfix's
// names and defaults.
type Codes struct {
	// UnknownClientReject is the code for unknown_client_hostname and
	// unknown_reverse_client_hostname (450).
	UnknownClientReject int `mapstructure:"unknown_client_reject_code" yaml:"unknown_client_reject_code"`
	// UnknownHostnameReject is the code for unknown_helo_hostname (450).
	UnknownHostnameReject int `mapstructure:"unknown_hostname_reject_code" yaml:"unknown_hostname_reject_code"`
	// UnknownAddressReject is the code for unknown_sender_domain and
	// unknown_recipient_domain (450).
	UnknownAddressReject int `mapstructure:"unknown_address_reject_code" yaml:"unknown_address_reject_code"`
	// NonFQDNReject is the code for the non_fqdn_* restrictions (504).
	NonFQDNReject int `mapstructure:"non_fqdn_reject_code" yaml:"non_fqdn_reject_code"`
	// InvalidHostnameReject is the code for invalid_helo_hostname (501).
	InvalidHostnameReject int `mapstructure:"invalid_hostname_reject_code" yaml:"invalid_hostname_reject_code"`
	// AccessMapReject is the code for an access table's REJECT (554).
	AccessMapReject int `mapstructure:"access_map_reject_code" yaml:"access_map_reject_code"`
	// AccessMapDefer is the code for an access table's DEFER,
	// DEFER_IF_PERMIT and DEFER_IF_REJECT (450).
	AccessMapDefer int `mapstructure:"access_map_defer_code" yaml:"access_map_defer_code"`
	// MapsRBLReject is the code for the rbl and rhsbl_* restrictions (554).
	MapsRBLReject int `mapstructure:"maps_rbl_reject_code" yaml:"maps_rbl_reject_code"`
	// UnknownHeloHostnameTempfailAction is what unknown_helo_hostname does
	// on a temporary DNS failure: defer_if_permit (the default) or defer.
	UnknownHeloHostnameTempfailAction string `mapstructure:"unknown_helo_hostname_tempfail_action" yaml:"unknown_helo_hostname_tempfail_action"`
	// UnknownAddressTempfailAction is what unknown_sender_domain and
	// unknown_recipient_domain do on a temporary DNS failure:
	// defer_if_permit (the default) or defer.
	UnknownAddressTempfailAction string `mapstructure:"unknown_address_tempfail_action" yaml:"unknown_address_tempfail_action"`
}

// Auth configures the end-of-data authentication (DESIGN.md §1): the SPF
// result started at MAIL FROM, DKIM verified while the body streams, and
// DMARC evaluated at end of data, all reported in one
// Authentication-Results header (RFC 8601).
//
// The action words of SPF and DMARC are DESIGN.md §2's: reject, tempfail,
// quarantine, tag, warn, accept and off. A temperror is never answered
// with reject: temporary DNS trouble never gives a 5xx.
type Auth struct {
	// AuthservID is the authserv-id of the Authentication-Results header
	// mxguard adds (RFC 8601 §2.5). Empty (the default) means Hostname;
	// Load stores the effective id, in lower case.
	AuthservID string `mapstructure:"authserv_id" yaml:"authserv_id"`
	// AuthservAliases are further authserv-ids that are ours, for example
	// a previous host name: incoming Authentication-Results headers
	// claiming AuthservID or any of these are forged, and removed (RFC 8601
	// §5). Empty by default. Load stores them in lower case.
	AuthservAliases []string `mapstructure:"authserv_aliases" yaml:"authserv_aliases"`
	// SPF maps the SPF results of the MAIL FROM identity to actions.
	SPF SPF `mapstructure:"spf" yaml:"spf"`
	// DKIM limits DKIM verification.
	DKIM DKIM `mapstructure:"dkim" yaml:"dkim"`
	// DMARC chooses the DMARC rules and maps DMARC outcomes to actions.
	DMARC DMARC `mapstructure:"dmarc" yaml:"dmarc"`
}

// SPF maps the SPF results (RFC 7208 §2.6) of the MAIL FROM identity to
// actions. A pass is always accepted.
type SPF struct {
	// Fail is the action for fail (reject).
	Fail string `mapstructure:"fail" yaml:"fail"`
	// Softfail is the action for softfail (tag).
	Softfail string `mapstructure:"softfail" yaml:"softfail"`
	// Neutral is the action for neutral (accept).
	Neutral string `mapstructure:"neutral" yaml:"neutral"`
	// None is the action when the domain publishes no SPF record, or
	// there is no domain to check (accept).
	None string `mapstructure:"none" yaml:"none"`
	// Temperror is the action for a temporary DNS failure (tempfail);
	// never reject.
	Temperror string `mapstructure:"temperror" yaml:"temperror"`
	// Permerror is the action for a broken SPF record (accept).
	Permerror string `mapstructure:"permerror" yaml:"permerror"`
	// RejectAt is where an SPF rejection is answered (eom): eom, at end
	// of data, where an aligned DKIM pass or a DMARC pass can still save
	// forwarded mail, or rcpt, at the first RCPT TO without receiving the
	// message, as policyd-spf does.
	RejectAt string `mapstructure:"reject_at" yaml:"reject_at"`
}

// Action returns the configured action for an SPF result ("fail",
// "softfail", ...), or "accept" for pass and for words it does not know.
func (s SPF) Action(result string) string {
	switch strings.ToLower(result) {
	case "fail":
		return s.Fail
	case "softfail":
		return s.Softfail
	case "neutral":
		return s.Neutral
	case "none":
		return s.None
	case "temperror":
		return s.Temperror
	case "permerror":
		return s.Permerror
	}
	return "accept"
}

// DKIM limits DKIM verification (RFC 6376). Signatures are reported in
// Authentication-Results; DKIM by itself has no action: DMARC decides.
type DKIM struct {
	// MaxSignatures is how many DKIM-Signature headers are verified per
	// message, from the top (5; 1 to 50). Further signatures are
	// reported as neutral ("too many signatures") without a DNS lookup.
	MaxSignatures int `mapstructure:"max_signatures" yaml:"max_signatures"`
	// MinRSABits is the smallest RSA key accepted (1024, RFC 8301 §3.2;
	// 1024 to 8192): a smaller key makes the signature fail (permerror).
	MinRSABits int `mapstructure:"min_rsa_bits" yaml:"min_rsa_bits"`
	// MaxBuffer is the most bytes of the header block kept in memory for
	// verification (1048576, 1 MiB; 65536 to 67108864); the body is
	// streamed, never buffered. The signatures of a message with a larger
	// header block are not verified; dmarc/ documents how that is
	// reported.
	MaxBuffer int `mapstructure:"max_buffer" yaml:"max_buffer"`
}

// DMARC chooses the DMARC rules and maps the outcome of the domain's
// policy to actions, like OpenDMARC's RejectFailures and friends.
type DMARC struct {
	// Mode is the specification followed (rfc9989): rfc9989 (DMARCbis:
	// the organizational domain by DNS tree walk, the psd= and t= tags)
	// or rfc7489 (the original DMARC: the public suffix list, pct=).
	Mode string `mapstructure:"mode" yaml:"mode"`
	// Reject is the action when the domain's policy disposition is
	// reject (reject).
	Reject string `mapstructure:"reject" yaml:"reject"`
	// Quarantine is the action when the disposition is quarantine
	// (quarantine: Postfix holds the message in its hold queue; tag adds
	// a header only).
	Quarantine string `mapstructure:"quarantine" yaml:"quarantine"`
	// None is the action when DMARC fails but the policy is none
	// (accept).
	None string `mapstructure:"none" yaml:"none"`
	// Temperror is the action when the policy cannot be looked up for a
	// temporary DNS failure (tempfail); never reject.
	Temperror string `mapstructure:"temperror" yaml:"temperror"`
	// Permerror is the action for a broken DMARC record (accept).
	Permerror string `mapstructure:"permerror" yaml:"permerror"`
	// RejectMultipleFrom rejects messages without exactly one author
	// address in From: (RFC 5322 §3.6; OpenDMARC's RejectMultiValueFrom),
	// since DMARC cannot tell whose policy applies (true).
	RejectMultipleFrom bool `mapstructure:"reject_multiple_from" yaml:"reject_multiple_from"`
	// OverrideDomains are domains whose mail is never refused for DMARC:
	// when the envelope sender's domain or the client's verified host name
	// is one of them, or a subdomain, the result is still reported but
	// the action is accept (RFC 7489 §6.7's local policy override, e.g.
	// known forwarders and mailing lists). Empty by default. Load stores
	// them in lower case, without a trailing dot.
	OverrideDomains []string `mapstructure:"override_domains" yaml:"override_domains"`
	// OverrideNetworks are client networks, CIDR prefixes or bare
	// addresses, whose mail is never refused for DMARC, as
	// OverrideDomains. Empty by default. Load stores them as prefixes;
	// see OverridePrefixes.
	OverrideNetworks []string `mapstructure:"override_networks" yaml:"override_networks"`
}

// Action returns the configured action for a DMARC disposition or error
// ("reject", "quarantine", "none", "temperror", "permerror"), or "accept"
// for pass and for words it does not know.
func (d DMARC) Action(outcome string) string {
	switch strings.ToLower(outcome) {
	case "reject":
		return d.Reject
	case "quarantine":
		return d.Quarantine
	case "none":
		return d.None
	case "temperror":
		return d.Temperror
	case "permerror":
		return d.Permerror
	}
	return "accept"
}

// OverridePrefixes returns OverrideNetworks as prefixes, skipping entries
// that do not parse (there are none in a Config returned by Load).
func (d DMARC) OverridePrefixes() []netip.Prefix {
	return prefixes(d.OverrideNetworks)
}

// Load reads the configuration file at path, or the embedded default when
// path is "", applies the MXGUARD_* environment variables and the defaults,
// and validates the result.
//
// When the configuration is invalid, the error is an *Errors listing every
// problem found (warnings included); a file that cannot be read is reported
// as the underlying *fs.PathError, wrapped. On success, warning-level
// problems are in Config.Warnings and the Config is normalized: DNS servers
// carry a port, trusted networks are prefixes, SocketMode has four octal
// digits, names are in lower case, and an empty Hostname is the machine's
// name.
func Load(path string) (*Config, error) {
	name, data := DefaultName, defaultYAML
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		name, data = path, b
	}
	return parse(name, data, true)
}

// Default returns the embedded default configuration, without environment
// overrides. It panics if the embedded file is broken, which a test guards.
func Default() *Config {
	c, err := parse(DefaultName, defaultYAML, false)
	if err != nil {
		panic("config: embedded default.yml: " + err.Error())
	}
	return c
}

// DefaultYAML returns the text of the embedded default configuration.
func DefaultYAML() []byte {
	return append([]byte(nil), defaultYAML...)
}

// YAML returns the effective configuration (after defaults, environment
// overrides and normalization) as YAML, with canonical restriction names.
// A password in a redis:// store URL is masked.
func (c *Config) YAML() ([]byte, error) {
	cc := *c
	cc.Store = redactStore(c.Store)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&cc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TrustedPrefixes returns TrustedNetworks as prefixes, skipping entries
// that do not parse (there are none in a Config returned by Load).
func (c *Config) TrustedPrefixes() []netip.Prefix {
	return prefixes(c.TrustedNetworks)
}

func prefixes(networks []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(networks))
	for _, s := range networks {
		if p, _, _ := parseNetwork(s); p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}

// SocketPerm returns SocketMode as permission bits, or 0660 when it does
// not parse (it always does in a Config returned by Load).
func (c *Config) SocketPerm() os.FileMode {
	if m, ok := parseMode(c.SocketMode); ok {
		return m
	}
	return 0o660
}

// ListenAddr returns the network ("tcp" or "unix") and address of Listen,
// ready for net.Listen.
func (c *Config) ListenAddr() (network, address string, err error) {
	return ParseListen(c.Listen)
}

func parseMode(s string) (os.FileMode, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, false
	}
	return os.FileMode(n), true
}

// normalize puts a valid configuration in the canonical form Load
// documents.
func (c *Config) normalize() {
	if m, ok := parseMode(c.SocketMode); ok {
		c.SocketMode = fmt.Sprintf("%04o", uint32(m))
	}
	c.Hostname = strings.ToLower(strings.TrimSuffix(c.Hostname, "."))
	if c.Hostname == "" {
		if h, err := osHostname(); err == nil {
			c.Hostname = strings.ToLower(strings.TrimSuffix(h, "."))
		}
	}
	for i, n := range c.LocalNames {
		if a, ok := parseAddrLiteral(n); ok {
			c.LocalNames[i] = a.String()
		} else {
			c.LocalNames[i] = strings.ToLower(strings.TrimSuffix(n, "."))
		}
	}
	for i, s := range c.DNS.Servers {
		if ap, ok := parseServer(s); ok {
			c.DNS.Servers[i] = ap.String()
		}
	}
	normalizeNetworks(c.TrustedNetworks)
	c.Log.Format = strings.ToLower(c.Log.Format)
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Codes.UnknownHeloHostnameTempfailAction = strings.ToLower(c.Codes.UnknownHeloHostnameTempfailAction)
	c.Codes.UnknownAddressTempfailAction = strings.ToLower(c.Codes.UnknownAddressTempfailAction)

	a := &c.Auth
	a.AuthservID = strings.ToLower(strings.TrimSuffix(a.AuthservID, "."))
	if a.AuthservID == "" {
		a.AuthservID = c.Hostname
	}
	normalizeNames(a.AuthservAliases)
	for _, p := range []*string{&a.SPF.Fail, &a.SPF.Softfail, &a.SPF.Neutral, &a.SPF.None,
		&a.SPF.Temperror, &a.SPF.Permerror, &a.SPF.RejectAt,
		&a.DMARC.Mode, &a.DMARC.Reject, &a.DMARC.Quarantine, &a.DMARC.None,
		&a.DMARC.Temperror, &a.DMARC.Permerror} {
		*p = strings.ToLower(*p)
	}
	normalizeNames(a.DMARC.OverrideDomains)
	normalizeNetworks(a.DMARC.OverrideNetworks)
}

// normalizeNames puts host names in lower case, without a trailing dot.
func normalizeNames(names []string) {
	for i, n := range names {
		names[i] = strings.ToLower(strings.TrimSuffix(n, "."))
	}
}

// normalizeNetworks writes networks as prefixes (192.0.2.1 as
// 192.0.2.1/32).
func normalizeNetworks(networks []string) {
	for i, s := range networks {
		if p, _, _ := parseNetwork(s); p.IsValid() {
			networks[i] = p.String()
		}
	}
}
