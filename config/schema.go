package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is the type of a configuration key's value.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindDuration
	kindStrings      // a list of strings; from a string, split on spaces and commas
	kindRestrictions // a restriction list; from a string, read like main.cf
)

// keyDef is one configuration key: its path, type and default. Every key
// is registered with viper with its default, which is what lets
// AutomaticEnv see it (viper only looks up environment variables for keys
// it knows).
type keyDef struct {
	key  string
	kind kind
	def  any
}

// schema lists every key of Config except classes (whose keys are the
// class names). A test checks it against the struct.
var schema = []keyDef{
	{"listen", kindString, "inet:127.0.0.1:8891"},
	{"socket_mode", kindString, "0660"},
	{"hostname", kindString, ""},
	{"local_names", kindStrings, []string{}},
	{"dns.servers", kindStrings, []string{}},
	{"dns.timeout", kindDuration, 5 * time.Second},
	{"dns.attempts", kindInt, 2},
	{"dns.cache_size", kindInt, 10000},
	{"trusted_networks", kindStrings, []string{"127.0.0.0/8", "::1/128"}},
	{"skip_authenticated", kindBool, true},
	{"delay_reject", kindBool, true},
	{"helo_required", kindBool, true},
	{"state_dir", kindString, "/var/lib/mxguard"},
	{"store", kindString, "bolt"},
	{"log.format", kindString, "logfmt"},
	{"log.level", kindString, "info"},
	{"metrics.listen", kindString, ""},
	{"timeouts.check", kindDuration, 20 * time.Second},
	// Postfix's defaults, from postconf -d (Postfix 3.x).
	{"codes.unknown_client_reject_code", kindInt, 450},
	{"codes.unknown_hostname_reject_code", kindInt, 450},
	{"codes.unknown_address_reject_code", kindInt, 450},
	{"codes.non_fqdn_reject_code", kindInt, 504},
	{"codes.invalid_hostname_reject_code", kindInt, 501},
	{"codes.access_map_reject_code", kindInt, 554},
	{"codes.access_map_defer_code", kindInt, 450},
	{"codes.maps_rbl_reject_code", kindInt, 554},
	{"codes.unknown_helo_hostname_tempfail_action", kindString, "defer_if_permit"},
	{"codes.unknown_address_tempfail_action", kindString, "defer_if_permit"},
	{"auth.authserv_id", kindString, ""},
	{"auth.authserv_aliases", kindStrings, []string{}},
	{"auth.spf.fail", kindString, "reject"},
	{"auth.spf.softfail", kindString, "tag"},
	{"auth.spf.neutral", kindString, "accept"},
	{"auth.spf.none", kindString, "accept"},
	{"auth.spf.temperror", kindString, "tempfail"},
	{"auth.spf.permerror", kindString, "accept"},
	{"auth.spf.reject_at", kindString, "eom"},
	{"auth.dkim.max_signatures", kindInt, 5},
	{"auth.dkim.min_rsa_bits", kindInt, 1024},
	{"auth.dkim.max_buffer", kindInt, 1 << 20},
	{"auth.dmarc.mode", kindString, "rfc9989"},
	{"auth.dmarc.reject", kindString, "reject"},
	{"auth.dmarc.quarantine", kindString, "quarantine"},
	{"auth.dmarc.none", kindString, "accept"},
	{"auth.dmarc.temperror", kindString, "tempfail"},
	{"auth.dmarc.permerror", kindString, "accept"},
	{"auth.dmarc.reject_multiple_from", kindBool, true},
	{"auth.dmarc.override_domains", kindStrings, []string{}},
	{"auth.dmarc.override_networks", kindStrings, []string{}},
	{"client", kindRestrictions, []any{}},
	{"helo", kindRestrictions, []any{}},
	{"sender", kindRestrictions, []any{}},
	{"recipient", kindRestrictions, []any{}},
}

// sections are the key paths whose value is a mapping of further keys:
// every proper prefix of a schema key ("dns", "auth", "auth.spf"), and
// classes, whose keys are the class names.
var sections = func() map[string]bool {
	s := map[string]bool{"classes": true}
	for _, k := range schema {
		for i, ch := range k.key {
			if ch == '.' {
				s[k.key[:i]] = true
			}
		}
	}
	return s
}()

// restrictionLists are the stage lists, in stage order.
var restrictionLists = []string{"client", "helo", "sender", "recipient"}

// joinKey appends a key to a section path ("" is the top level).
func joinKey(section, key string) string {
	if section == "" {
		return key
	}
	return section + "." + key
}

func schemaKey(key string) (keyDef, bool) {
	for _, k := range schema {
		if k.key == key {
			return k, true
		}
	}
	return keyDef{}, false
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return "MXGUARD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// splitList splits a list given as one string (from the environment) on
// spaces and commas.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// coerce converts raw (from YAML or the environment) to the Go type of
// kind k. On failure it returns a message and a hint for the Problem.
func coerce(k kind, raw any) (v any, msg, hint string) {
	switch k {
	case kindString:
		switch x := raw.(type) {
		case string:
			return x, "", ""
		case bool, int, int64, uint64, float64:
			return fmt.Sprint(x), "", ""
		}
		return nil, fmt.Sprintf("must be a single value, not %s", describe(raw)), ""
	case kindStrings:
		switch x := raw.(type) {
		case string:
			return splitList(x), "", ""
		case []string:
			return x, "", ""
		case []any:
			out := make([]string, 0, len(x))
			for i, e := range x {
				switch e := e.(type) {
				case string:
					out = append(out, e)
				case bool, int, int64, uint64, float64:
					out = append(out, fmt.Sprint(e))
				default:
					return nil, fmt.Sprintf("item %d must be a single value, not %s", i, describe(e)), ""
				}
			}
			return out, "", ""
		}
		return nil, fmt.Sprintf("must be a list, not %s", describe(raw)), "write [a, b] or one item per line after \"- \""
	case kindBool:
		switch x := raw.(type) {
		case bool:
			return x, "", ""
		case int:
			if x == 0 || x == 1 {
				return x == 1, "", ""
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "yes", "on", "1":
				return true, "", ""
			case "false", "no", "off", "0":
				return false, "", ""
			}
		}
		return nil, fmt.Sprintf("%s is not a boolean", quote(raw)), "write true or false (yes or no also work)"
	case kindInt:
		switch x := raw.(type) {
		case int:
			return x, "", ""
		case int64:
			if x >= math.MinInt32 && x <= math.MaxInt32 {
				return int(x), "", ""
			}
		case uint64:
			if x <= math.MaxInt32 {
				return int(x), "", ""
			}
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt32 && x <= math.MaxInt32 {
				return int(x), "", ""
			}
		case string:
			if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
				return n, "", ""
			}
		}
		return nil, fmt.Sprintf("%s is not a whole number", quote(raw)), ""
	case kindDuration:
		hint := "write a number with a unit, e.g. 5s, 500ms or 1m30s"
		switch x := raw.(type) {
		case time.Duration:
			return x, "", ""
		case string:
			s := strings.TrimSpace(x)
			if d, err := time.ParseDuration(s); err == nil {
				if d < 0 {
					return nil, fmt.Sprintf("%q is negative", x), ""
				}
				return d, "", ""
			}
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				hint = "write it with a unit, e.g. " + s + "s"
			}
		case int, int64, uint64, float64:
			hint = fmt.Sprintf("write it with a unit, e.g. %vs", x)
		}
		return nil, fmt.Sprintf("%s is not a duration", quote(raw)), hint
	}
	return raw, "", ""
}

// quote renders a scalar as it was probably written: strings quoted.
func quote(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "an empty value"
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

// describe names the YAML shape of v.
func describe(v any) string {
	switch v.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any, []string:
		return "a list"
	case nil:
		return "an empty value"
	}
	return "a single value"
}
