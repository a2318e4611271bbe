package postfixcfg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultConfigDir is Postfix's configuration directory on Debian.
const DefaultConfigDir = "/etc/postfix"

// DefaultQueueDir is Postfix's queue_directory on Debian, the root of the
// chroot of smtpd(8) and the other chrooted daemons.
const DefaultQueueDir = "/var/spool/postfix"

// ErrNoConfig is returned when neither postconf nor main.cf could be read.
var ErrNoConfig = errors.New("postfixcfg: no postfix configuration")

// Postconf is a Postfix configuration as Doctor reads it.
type Postconf struct {
	// Dir is the configuration directory read ("" when postconf used its
	// default).
	Dir string
	// Source says where the values came from: "postconf -n" or the path
	// of the main.cf that was parsed.
	Source string
	// Explicit holds the parameters set in main.cf (postconf -n), raw,
	// without $name expansion.
	Explicit map[string]string
	// Defaults holds the running Postfix's defaults (postconf -d); nil
	// when postconf could not be run, in which case builtinDefaults (Postfix
	// 3.7's) stand in.
	Defaults map[string]string
	// Effective holds the values in effect, expanded (postconf -x), for the
	// parameters Doctor checks; nil when postconf could not be run.
	Effective map[string]string
	// Services are the master.cf entries; nil when master.cf could not be
	// read (then Doctor does not know whether smtpd runs chrooted).
	Services []Service
	// BadLines are main.cf line numbers that are not "name = value" (only
	// when main.cf was parsed directly).
	BadLines []int
}

// checkedParams are the parameters whose effective value Doctor needs.
var checkedParams = []string{
	"compatibility_level", "mail_version", "queue_directory", "config_directory",
	"smtpd_milters", "non_smtpd_milters",
	"milter_default_action", "milter_protocol", "milter_mail_macros",
	"milter_rcpt_macros", "milter_connect_macros", "milter_command_timeout",
	"smtpd_client_restrictions", "smtpd_helo_restrictions",
	"smtpd_sender_restrictions", "smtpd_recipient_restrictions",
	"smtpd_relay_restrictions", "smtpd_restriction_classes", "mynetworks",
}

// builtinDefaults are Postfix 3.7's defaults for the checked parameters,
// used when postconf cannot be run. smtpd_relay_restrictions depends on
// compatibility_level; see Value.
var builtinDefaults = map[string]string{
	"compatibility_level":    "0",
	"queue_directory":        DefaultQueueDir,
	"milter_default_action":  "tempfail",
	"milter_protocol":        "6",
	"milter_mail_macros":     "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	"milter_rcpt_macros":     "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	"milter_connect_macros":  "j {daemon_name} {daemon_addr} v _",
	"milter_command_timeout": "30s",
	"mynetworks":             "127.0.0.0/8 [::1]/128",
}

const defaultRelayRestrictions = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"

// Value returns the value in effect for name and whether main.cf sets it:
// postconf -x's answer when postconf ran, otherwise main.cf's value or
// Postfix 3.7's default.
func (p *Postconf) Value(name string) (value string, explicit bool) {
	v, explicit := p.Explicit[name]
	if e, ok := p.Effective[name]; ok {
		return e, explicit
	}
	if explicit {
		return v, true
	}
	if name == "smtpd_relay_restrictions" {
		// ${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, ...}}
		if lvl, _ := p.Value("compatibility_level"); lvl == "0" || lvl == "" {
			return "", false
		}
		return defaultRelayRestrictions, false
	}
	if d, ok := p.Defaults[name]; ok {
		return d, false
	}
	return builtinDefaults[name], false
}

// Default returns the running Postfix's default for name (postconf -d), or
// Postfix 3.7's when postconf did not run; ok is false when unknown.
func (p *Postconf) Default(name string) (value string, ok bool) {
	if p.Defaults != nil {
		value, ok = p.Defaults[name]
		return value, ok
	}
	value, ok = builtinDefaults[name]
	return value, ok
}

// ReadOptions says how to read the Postfix configuration.
type ReadOptions struct {
	// Dir is Postfix's configuration directory; "" means postconf's own
	// default (/etc/postfix).
	Dir string
	// Postconf is the postconf program; "" means "postconf" from PATH,
	// then /usr/sbin/postconf.
	Postconf string
	// NoPostconf parses Dir/main.cf and Dir/master.cf directly instead of
	// running postconf (what Read also does when postconf is absent).
	NoPostconf bool
}

// Read reads the Postfix configuration: with postconf(1) when it is
// installed (postconf -n for main.cf's settings, -d for the defaults of
// this Postfix version, -x for the effective values Doctor checks, -F for
// master.cf), otherwise by parsing main.cf and master.cf. It fails with
// ErrNoConfig when neither works.
func Read(ctx context.Context, opts ReadOptions) (*Postconf, error) {
	prog := opts.Postconf
	if prog == "" && !opts.NoPostconf {
		if p, err := exec.LookPath("postconf"); err == nil {
			prog = p
		} else if _, err := os.Stat("/usr/sbin/postconf"); err == nil {
			prog = "/usr/sbin/postconf" // not in a non-root PATH on Debian
		}
	}
	if opts.NoPostconf || prog == "" {
		return readFiles(opts.Dir)
	}
	return readPostconf(ctx, prog, opts.Dir)
}

func readPostconf(ctx context.Context, prog, dir string) (*Postconf, error) {
	run := func(args ...string) (string, error) {
		if dir != "" {
			args = append([]string{"-c", dir}, args...)
		}
		cmd := exec.CommandContext(ctx, prog, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return "", fmt.Errorf("%s %s: %s", prog, strings.Join(args, " "), msg)
		}
		return stdout.String(), nil
	}
	if dir != "" {
		// postconf would fail too, after a one-second pause.
		if _, err := os.Stat(filepath.Join(dir, "main.cf")); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoConfig, err)
		}
	}
	explicit, err := run("-n")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoConfig, err)
	}
	pc := &Postconf{Dir: dir, Source: "postconf -n", Explicit: parsePostconfOutput(explicit)}
	if dir != "" {
		// postconf -c DIR -n reports config_directory itself.
		delete(pc.Explicit, "config_directory")
	}
	if out, err := run("-d"); err == nil {
		pc.Defaults = parsePostconfOutput(out)
	}
	if out, err := run(append([]string{"-x"}, checkedParams...)...); err == nil {
		pc.Effective = parsePostconfOutput(out)
	}
	// Without master.cf, postconf -F fails, after the one-second pause of
	// every Postfix fatal error: look first.
	cfdir := dir
	if cfdir == "" {
		cfdir = pc.Effective["config_directory"]
	}
	if cfdir == "" {
		cfdir = DefaultConfigDir
	}
	if _, err := os.Stat(filepath.Join(cfdir, "master.cf")); err == nil {
		if out, err := run("-F"); err == nil {
			pc.Services = parsePostconfF(out)
		}
	}
	return pc, nil
}

func readFiles(dir string) (*Postconf, error) {
	if dir == "" {
		dir = DefaultConfigDir
	}
	path := filepath.Join(dir, "main.cf")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoConfig, err)
	}
	defer f.Close()
	params, bad, err := ParseMainCF(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoConfig, path, err)
	}
	pc := &Postconf{Dir: dir, Source: path, Explicit: params, BadLines: bad}
	if mf, err := os.Open(filepath.Join(dir, "master.cf")); err == nil {
		pc.Services, _ = parseMasterCF(mf)
		mf.Close()
	}
	return pc, nil
}
