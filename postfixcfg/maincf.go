// Package postfixcfg is mxguard's side of Postfix's configuration: the
// main.cf lines that wire mxguard in ("mxguard postfix-config") and a
// doctor that reads a running Postfix's configuration and reports what
// stops mxguard from working or duplicates its work ("mxguard doctor").
//
// Postfix's own documents are the reference: postconf(5) for main.cf's
// syntax and parameters, master(5) for master.cf, MILTER_README for the
// milter settings, and postconf(1) for reading them.
package postfixcfg

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// DefaultCheckTimeout is mxguard's default timeouts.check.
const DefaultCheckTimeout = 20 * time.Second

// Options describe the mxguard configuration MainCF writes main.cf lines
// for.
type Options struct {
	// Listen is mxguard's listen address in Postfix's notation
	// (inet:127.0.0.1:8891, unix:/var/spool/postfix/mxguard/mxguard.sock);
	// "" means DefaultListen.
	Listen string
	// QueueDirectory is Postfix's queue_directory, the root of smtpd's
	// chroot; "" means DefaultQueueDir.
	QueueDirectory string
	// CheckTimeout is mxguard's timeouts.check; milter_command_timeout is
	// suggested above it. 0 means DefaultCheckTimeout.
	CheckTimeout time.Duration
}

// MilterMailMacros is the milter_mail_macros mxguard wants: Postfix's
// default plus the client's address and names for the log line.
const MilterMailMacros = "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} {client_addr} {client_name} {client_ptr}"

// commandTimeout is the milter_command_timeout to suggest: Postfix's
// default (30s), or more when mxguard's own per-stage limit is close to
// it, so that mxguard answers (with its own tempfail) before Postfix
// gives up on it.
func commandTimeout(check time.Duration) time.Duration {
	if check <= 0 {
		check = DefaultCheckTimeout
	}
	t := 30 * time.Second
	if check+10*time.Second > t {
		t = (check + 10*time.Second).Round(time.Second)
	}
	return t
}

// MainCF returns the main.cf lines for mxguard's configuration, each
// preceded by a comment saying why. main.cf has no trailing comments
// (postconf(5)): every comment is a line of its own.
func MainCF(opts Options) string {
	listen := opts.Listen
	if listen == "" {
		listen = DefaultListen
	}
	q := opts.QueueDirectory
	if q == "" {
		q = DefaultQueueDir
	}
	addr, inChroot := MilterAddress(listen, q)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Postfix settings for mxguard (listen: %s).", listen)
	line("# Add them to /etc/postfix/main.cf, then run \"postfix reload\".")
	line("# main.cf has no trailing comments: each comment stays on its own line.")
	line("")
	switch {
	case strings.HasPrefix(addr, "unix:") && inChroot && addr != "unix:"+path.Clean(strings.TrimPrefix(listen, "unix:")):
		line("# mxguard's socket %s is in Postfix's queue directory", strings.TrimPrefix(listen, "unix:"))
		line("# %s: written relative to it, smtpd finds it whether or not it runs", q)
		line("# chrooted there (master.cf's chroot column; Debian chroots smtpd).")
	case strings.HasPrefix(addr, "unix:") && !inChroot:
		sock := strings.TrimPrefix(addr, "unix:")
		line("# CAUTION: mxguard's socket %s is outside Postfix's queue directory", sock)
		line("# %s. Debian runs smtpd chrooted there (master.cf: \"smtp inet n - y ...\"),", q)
		line("# and a chrooted smtpd looks for %s instead.", path.Join(q, sock))
		line("# Either (recommended) move the socket into the queue directory:")
		line("#     mxguard.yml: listen: unix:%s", path.Join(q, "mxguard/mxguard.sock"))
		line("#     main.cf:     smtpd_milters = unix:mxguard/mxguard.sock")
		line("# or keep it and run every smtpd service unchrooted, for example:")
		line("#     postconf -Fe 'smtp/inet/chroot = n' && postfix reload")
	}
	line("# Hand every SMTP client's transaction to mxguard.")
	line("smtpd_milters = %s", addr)
	line("# Locally submitted mail (sendmail, pickup) has no SMTP client for mxguard to judge.")
	line("non_smtpd_milters =")
	line("# When mxguard is down or too slow, defer (4xx): accept would let mail in unchecked, reject would lose good mail.")
	line("milter_default_action = tempfail")
	line("# The milter protocol version Postfix offers; mxguard negotiates down from it.")
	line("milter_protocol = 6")
	line("# i: the queue id for mxguard's log line; {auth_*}: skip SMTP AUTH clients; {client_*}: the client in the log.")
	line("milter_mail_macros = %s", MilterMailMacros)
	line("# mxguard runs on this host: a connect that takes longer means it is down.")
	line("milter_connect_timeout = 10s")
	ct := commandTimeout(opts.CheckTimeout)
	check := opts.CheckTimeout
	if check <= 0 {
		check = DefaultCheckTimeout
	}
	line("# Above mxguard's own limit per stage (timeouts.check: %s), so mxguard answers before Postfix gives up.", check)
	line("milter_command_timeout = %ds", int(ct/time.Second))
	line("# Answer rejections at RCPT TO, so that the log has sender and recipient (mxguard's delay_reject does the same).")
	line("smtpd_delay_reject = yes")
	line("# Clients must say HELO/EHLO, so mxguard's HELO checks always have a name to check.")
	line("smtpd_helo_required = yes")
	return b.String()
}
