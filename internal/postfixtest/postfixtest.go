// Package postfixtest runs a real, private Postfix (the Debian postfix
// package) for end-to-end tests of the milter.
//
// Start writes a main.cf and master.cf of its own, with its own queue,
// data and log under a temporary directory, and runs Postfix's master(8)
// as PID 1 of fresh mount, PID and UTS namespaces:
//
//   - /etc/resolv.conf is bind-mounted with a file naming the test's
//     loopback DNS server (package dnstest on 127.0.53.N:53: the libc
//     resolver only speaks to port 53), /etc/hosts with a file that knows
//     only localhost, and /etc/nsswitch.conf with "hosts: files dns", so
//     Postfix resolves every name through the test's zones, exactly like
//     mxguard does;
//   - master.cf has chroot "n" everywhere, so the daemons see those files
//     directly;
//   - when master exits (Stop sends it SIGTERM; the test binary's death
//     sends it SIGKILL) the kernel kills every process left in its PID
//     namespace: no stray smtpd survives a test.
//
// The instance listens on 127.0.0.1 only, relays for *.test (anything
// else is "Relay access denied") and discards what it accepts. Its
// restrictions are the relay check only, plus RecommendedMainCF: the
// Postfix lines the README recommends for mxguard. A second smtpd
// (XClientAddr) lets 127.0.0.0/8 use XCLIENT, so a test can act as an
// authenticated client with "XCLIENT LOGIN=alice".
//
// Clients connect from any address of 127.0.0.0/8 (Linux's loopback
// accepts all of it; see Instance.Dial), so Postfix and mxguard both see a
// real client address and do their own lookups of it.
//
// A test of mxguard behind Postfix:
//
//	dnsSrv := postfixtest.StartDNS(t)             // 127.0.53.N:53
//	// start mxguard with dns.servers = [dnsSrv.Addr()], listening on ADDR
//	pf := postfixtest.Start(t, postfixtest.Options{
//		Milter:    "inet:" + ADDR,
//		DNS:       dnsSrv,
//		ZoneFiles: []string{"testdata/clients.zone"},
//	})
//	c := pf.Dial(t, "127.0.0.10")                 // PTR client10.test. in the zone
//	c.Expect(c.Ehlo("client10.test"), 250, "")
//	c.Expect(c.Mail("a@client10.test"), 250, "2.1.0")
//	if r := c.Rcpt("b@x.test"); r.String() != "550 5.7.1 ..." { ... }
//	line, err := pf.WaitLog(ctx, "milter-reject: RCPT from client10.test[127.0.0.10]")
//
// It needs root (namespaces, bind mounts, Postfix's privilege drop), Linux,
// and postfix >= 3.4 installed (postconf and master; the system instance
// need not run and is not touched). Without them Start skips the test with
// a loud message; with MXGUARD_E2E=1 in the environment it fails instead,
// so CI cannot silently skip the suite.
package postfixtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"github.com/mxguard/mxguard/internal/dnstest"
)

// EnvE2E is the environment variable that turns a missing prerequisite
// into a test failure: MXGUARD_E2E=1.
const EnvE2E = "MXGUARD_E2E"

// DefaultHostname is Postfix's myhostname unless Options.Hostname is set.
const DefaultHostname = "mx.mxguard.test"

// Options configures an instance. The zero value runs Postfix without a
// milter and with an empty DNS.
type Options struct {
	// Milter is smtpd_milters, e.g. "inet:127.0.0.1:8891". Empty: none.
	Milter string

	// ZoneFiles and Zones are loaded into the DNS server (master file
	// format with dnstest's ;! fault directives), files first.
	ZoneFiles []string
	Zones     []string

	// DNSAddr is where the DNS server listens: an IPv4 loopback address
	// and port 53. Empty: the first free 127.0.53.N:53, so that several
	// instances (and test binaries) can run at the same time.
	DNSAddr string

	// DNS, when set, is the DNS server to use instead of starting one
	// (ZoneFiles and Zones are added to it; DNSAddr must be empty): see
	// StartDNS, for a test that must configure mxguard with the DNS
	// address before Postfix starts. Stop does not close it.
	DNS *dnstest.Server

	// ResolvOptions is the "options" line of Postfix's resolv.conf.
	// Empty: "timeout:1 attempts:1", so a ;!timeout directive costs
	// Postfix one second per lookup, not ten.
	ResolvOptions string

	// Hostname is myhostname. Empty: DefaultHostname.
	Hostname string

	// ExtraMainCF sets main.cf parameters after every other line
	// (RecommendedMainCF included); an empty value sets the parameter
	// empty. For example relay_domains to accept other domains than
	// *.test, or milter_connect_macros.
	ExtraMainCF map[string]string

	// ExtraMasterCF lines are appended to master.cf.
	ExtraMasterCF []string

	// StartTimeout bounds the start of Postfix. Zero: 30s.
	StartTimeout time.Duration
}

// Instance is a running private Postfix and its DNS server.
type Instance struct {
	t         testing.TB
	l         layout
	dns       *dnstest.Server
	ownDNS    bool // started by Start, closed by Stop
	smtpAddr  string
	xclient   string
	cmd       *exec.Cmd
	pid       int
	pidNS     string // readlink /proc/PID/ns/pid of master
	done      chan struct{}
	waitErr   error // set before done is closed
	startTime time.Duration
	stopOnce  sync.Once
}

// Start starts a private Postfix, and its DNS server unless opts.DNS is
// set, and stops them at the end of the test (t.Cleanup). It skips the test, or fails it with
// MXGUARD_E2E=1, when a prerequisite is missing, and fails it when Postfix
// does not start.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	pr := prerequisites()
	if pr.err != nil {
		missing(t, pr.err)
	}
	if opts.Hostname == "" {
		opts.Hostname = DefaultHostname
	}
	if opts.ResolvOptions == "" {
		opts.ResolvOptions = "timeout:1 attempts:1"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	t0 := time.Now()

	// Not t.TempDir: its parents are 0700, and Postfix's daemons, which run
	// as the postfix user, must reach the queue directory.
	dir, err := os.MkdirTemp("", "postfixtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postfixtest: the test failed; keeping %s (maillog, etc/, master.out)", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("postfixtest: %v", err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	i := &Instance{t: t, l: newLayout(dir), done: make(chan struct{})}

	if opts.DNS != nil {
		i.dns = opts.DNS
		err = addZones(opts)
	} else {
		i.dns, err = startDNS(opts)
		i.ownDNS = err == nil
	}
	if err != nil {
		t.Fatalf("postfixtest: %v", err)
	}
	t.Cleanup(i.Stop) // Postfix (when started), then the DNS server

	const listenIP = "127.0.0.1"
	reserved, err := reservePorts(listenIP, 2)
	if err != nil {
		t.Fatalf("postfixtest: %v", err)
	}
	defer func() {
		for _, ln := range reserved {
			ln.Close()
		}
	}()
	i.smtpAddr, i.xclient = reserved[0].Addr().String(), reserved[1].Addr().String()
	if err := i.writeConfig(opts, listenIP); err != nil {
		t.Fatalf("postfixtest: %v", err)
	}
	if err := mkQueueDirs(i.l); err != nil {
		t.Fatalf("postfixtest: queue directories: %v", err)
	}
	// postconf reports unknown (mistyped) and malformed parameters; postfix
	// check would too, in a second instead of 20ms.
	out, err := exec.Command(pr.postconf, "-c", i.l.configDir, "-n").CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("warning:")) {
		t.Fatalf("postfixtest: postconf -n: %v\n%s", err, grepLines(out, "postconf:"))
	}

	if err := i.startMaster(pr); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
			missing(t, fmt.Errorf("cannot create mount and PID namespaces: %w", err))
		}
		t.Fatalf("postfixtest: starting master: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	if _, err := i.waitLog(ctx, 0, "daemon started"); err != nil {
		i.Stop()
		t.Fatalf("postfixtest: Postfix did not start: %v\n%s", err, i.diagnostics())
	}
	i.startTime = time.Since(t0)
	t.Logf("postfixtest: Postfix %s started in %v (master PID %d, smtpd %s, xclient smtpd %s, DNS %s, dir %s)",
		pr.version, i.startTime.Round(time.Millisecond), i.pid, i.smtpAddr, i.xclient, i.dns.Addr(), dir)
	return i
}

// SMTPAddr is the address (127.0.0.1:port) of the smtpd that runs the
// milter: the MX a test talks to.
func (i *Instance) SMTPAddr() string { return i.smtpAddr }

// XClientAddr is the address of a second smtpd, with the same milter, that
// allows XCLIENT from 127.0.0.0/8 and has SASL enabled so that
// "XCLIENT LOGIN=name" makes the session authenticated as name: Postfix
// then passes {auth_type}=XCLIENT and {auth_authen}=name to the milter.
func (i *Instance) XClientAddr() string { return i.xclient }

// DNS is the DNS server Postfix uses; point mxguard's dns.servers at
// DNS().Addr(). Zones and faults may be changed while Postfix runs, but
// Postfix does not cache, so the change applies to its next lookup.
func (i *Instance) DNS() *dnstest.Server { return i.dns }

// Dir is the instance's directory: etc/ (main.cf, master.cf), spool/,
// data/, maillog, and the files bind-mounted over /etc.
func (i *Instance) Dir() string { return i.l.dir }

// ConfigDir is the instance's config_directory, for postconf -c.
func (i *Instance) ConfigDir() string { return i.l.configDir }

// PID is the process ID of Postfix's master.
func (i *Instance) PID() int { return i.pid }

// StartDuration is how long Start took, from the prerequisite checks to
// master's "daemon started" log line.
func (i *Instance) StartDuration() time.Duration { return i.startTime }

// Dial connects to SMTPAddr from sourceIP (an address in 127.0.0.0/8;
// empty: 127.0.0.1) and reads the greeting. See DialSMTP.
func (i *Instance) Dial(t testing.TB, sourceIP string) *Client {
	t.Helper()
	return DialSMTP(t, i.smtpAddr, sourceIP)
}

// DialXClient connects to XClientAddr from sourceIP and reads the greeting.
func (i *Instance) DialXClient(t testing.TB, sourceIP string) *Client {
	t.Helper()
	return DialSMTP(t, i.xclient, sourceIP)
}

// Log returns Postfix's log so far (maillog_file, written by postlogd).
func (i *Instance) Log() string {
	b, _ := os.ReadFile(i.l.maillog)
	return string(b)
}

// LogMark returns the current length of the log, for WaitLogAfter.
func (i *Instance) LogMark() int {
	fi, err := os.Stat(i.l.maillog)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// WaitLog waits until the log contains substr and returns the first line
// that does. It fails when ctx ends or Postfix has exited.
func (i *Instance) WaitLog(ctx context.Context, substr string) (string, error) {
	return i.waitLog(ctx, 0, substr)
}

// WaitLogAfter is WaitLog for the part of the log after mark (LogMark).
func (i *Instance) WaitLogAfter(ctx context.Context, mark int, substr string) (string, error) {
	return i.waitLog(ctx, mark, substr)
}

// Stop stops Postfix by its master's PID (SIGTERM, then SIGKILL after 10s)
// and then the DNS server, unless it came from Options.DNS. The kernel
// kills every other process of the instance with the master, the init of
// its PID namespace. It is called by t.Cleanup and may be called before,
// more than once. When the test has failed, it logs Postfix's log first.
func (i *Instance) Stop() {
	i.stopOnce.Do(func() {
		if i.t.Failed() && i.startTime > 0 {
			i.t.Logf("postfixtest: Postfix's log (%s):\n%s", i.l.maillog, tail(i.Log(), 8000))
		}
		if i.cmd != nil {
			select {
			case <-i.done:
			default:
				_ = i.cmd.Process.Signal(syscall.SIGTERM)
				t := time.NewTimer(10 * time.Second)
				select {
				case <-i.done:
				case <-t.C:
					i.t.Logf("postfixtest: master PID %d ignored SIGTERM for 10s; killing it", i.pid)
					_ = i.cmd.Process.Kill()
					<-i.done
				}
				t.Stop()
			}
		}
		if i.ownDNS {
			if err := i.dns.Close(); err != nil {
				i.t.Errorf("postfixtest: closing DNS server: %v", err)
			}
		}
	})
}

// PIDs returns the process IDs of the instance's processes still running:
// those in master's PID namespace. After Stop it is empty.
func (i *Instance) PIDs() []int {
	if i.pidNS == "" {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid")); err == nil && ns == i.pidNS {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startScript runs as PID 1 of the new namespaces: it makes the mounts
// private (they must not propagate back to the host), puts our files over
// /etc, names the host and becomes master in init mode (-i: only for PID
// 1; it stays in the foreground and is the namespace's reaper).
//
// The host name matters: with no search line in resolv.conf, glibc
// searches the domain of a host name that has a dot, so on a host named
// ci.example.com a lookup of the NXDOMAIN name x.test would go on to
// x.test.example.com, which the test's server REFUSES, and the result
// would be a temporary failure. A name without a dot (in the UTS
// namespace only) has no domain to search.
const startScript = `set -e
mount --make-rprivate /
mount --bind "$1" /etc/resolv.conf
mount --bind "$2" /etc/hosts
mount --bind "$3" /etc/nsswitch.conf
hostname mx 2>/dev/null || echo mx > /proc/sys/kernel/hostname
exec "$4" -c "$5" -i
`

func (i *Instance) startMaster(pr prereq) error {
	out, err := os.Create(filepath.Join(i.l.dir, "master.out"))
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(pr.sh, "-c", startScript, "postfixtest",
		i.l.resolv, i.l.hosts, i.l.nsswitch, pr.master, i.l.configDir)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = i.l.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
		// If the test binary dies, so does master, and with it the
		// namespace.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	i.cmd, i.pid = cmd, cmd.Process.Pid
	i.pidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", i.pid))
	go func() {
		i.waitErr = cmd.Wait()
		close(i.done)
	}()
	return nil
}

func (i *Instance) writeConfig(opts Options, listenIP string) error {
	main, err := mainCF(i.l, opts, listenIP)
	if err != nil {
		return err
	}
	files := []struct {
		path, text string
	}{
		{filepath.Join(i.l.configDir, "main.cf"), "# written by postfixtest\n" + main.String()},
		{filepath.Join(i.l.configDir, "master.cf"), masterCF(opts, i.smtpAddr, i.xclient)},
		{i.l.resolv, fmt.Sprintf("# postfixtest: the test's DNS server\nnameserver %s\noptions %s\n",
			strings.TrimSuffix(i.dns.Addr(), ":53"), opts.ResolvOptions)},
		{i.l.hosts, "127.0.0.1\tlocalhost\n"},
		{i.l.nsswitch, "hosts: files dns\n"},
	}
	if err := os.Mkdir(i.l.configDir, 0o755); err != nil {
		return err
	}
	// Postfix reads a main.cf changed in the last second or two again and
	// again, 300ms apart, until it has "cooled down" (dict_load_file):
	// date the files back and it reads them at once.
	past := time.Now().Add(-time.Hour)
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(f.path, past, past); err != nil {
			return err
		}
	}
	return nil
}

// waitLog waits for substr in the log after offset from. The log is read
// again on every change of the instance directory (inotify), with a slow
// tick as a safety net; it ends when ctx does or master exits.
func (i *Instance) waitLog(ctx context.Context, from int, substr string) (string, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return "", err
	}
	defer w.Close()
	if err := w.Add(i.l.dir); err != nil {
		return "", err
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	exited := false
	for {
		if line, ok := findLine(i.Log(), from, substr); ok {
			return line, nil
		}
		if exited {
			return "", fmt.Errorf("postfixtest: waiting for %q in the log: Postfix has exited (%v)", substr, i.waitErr)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("postfixtest: waiting for %q in the log: %w", substr, ctx.Err())
		case <-i.done:
			exited = true // one more look: the line may be the last one
		case <-w.Events:
		case <-w.Errors:
		case <-tick.C:
		}
	}
}

// diagnostics is master's output and the log's tail, for failures.
func (i *Instance) diagnostics() string {
	out, _ := os.ReadFile(filepath.Join(i.l.dir, "master.out"))
	return fmt.Sprintf("--- master output:\n%s--- maillog:\n%s"+
		"--- (master logs errors it meets before it has read main.cf's maillog_file, such as a bad master.cf service, to syslog)",
		out, tail(i.Log(), 4000))
}

// tail returns the last whole lines of s, about n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if j := strings.IndexByte(s[len(s)-n:], '\n'); j >= 0 {
		return "...\n" + s[len(s)-n+j+1:]
	}
	return s[len(s)-n:]
}

func findLine(log string, from int, substr string) (string, bool) {
	if from > len(log) {
		from = len(log)
	}
	n := strings.Index(log[from:], substr)
	if n < 0 {
		return "", false
	}
	n += from
	start := strings.LastIndexByte(log[:n], '\n') + 1
	end := strings.IndexByte(log[n:], '\n')
	if end < 0 {
		return log[start:], true
	}
	return log[start : n+end], true
}

func grepLines(b []byte, substr string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// StartDNS starts a DNS server that Postfix can use, on the first free
// 127.0.53.N:53, and closes it at the end of the test. Pass it in
// Options.DNS when mxguard must be configured with its address before
// Postfix starts. It skips or fails the test as Start does when a
// prerequisite is missing.
func StartDNS(t testing.TB, opts ...dnstest.Option) *dnstest.Server {
	t.Helper()
	if pr := prerequisites(); pr.err != nil {
		missing(t, pr.err)
	}
	s, err := startDNS(Options{}, opts...)
	if err != nil {
		t.Fatalf("postfixtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addZones loads opts' zones into opts.DNS.
func addZones(opts Options) error {
	if opts.DNSAddr != "" {
		return errors.New("both Options.DNS and Options.DNSAddr are set")
	}
	if ap, err := netip.ParseAddrPort(opts.DNS.Addr()); err != nil || ap.Port() != 53 {
		return fmt.Errorf("the Options.DNS server listens on %s: Postfix's resolver needs port 53 (see StartDNS)", opts.DNS.Addr())
	}
	var zones []string
	for _, f := range opts.ZoneFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		zones = append(zones, string(b))
	}
	for _, z := range append(zones, opts.Zones...) {
		if err := opts.DNS.AddZone(z); err != nil {
			return err
		}
	}
	return nil
}

// startDNS starts the DNS server on opts.DNSAddr or on the first free
// 127.0.53.N:53, with opts' zones and then dopts.
func startDNS(opts Options, dopts ...dnstest.Option) (*dnstest.Server, error) {
	var zopts []dnstest.Option
	for _, f := range opts.ZoneFiles {
		zopts = append(zopts, dnstest.WithZoneFile(f))
	}
	for _, z := range opts.Zones {
		zopts = append(zopts, dnstest.WithZone(z))
	}
	dopts = append(zopts, dopts...)
	var addrs []string
	if opts.DNSAddr != "" {
		ap, err := netip.ParseAddrPort(opts.DNSAddr)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() || ap.Port() != 53 {
			return nil, fmt.Errorf("DNSAddr %q: want an IPv4 loopback address and port 53 (the libc resolver has no port setting)", opts.DNSAddr)
		}
		addrs = []string{opts.DNSAddr}
	} else {
		for n := 1; n < 255; n++ {
			addrs = append(addrs, fmt.Sprintf("127.0.53.%d:53", n))
		}
	}
	var err error
	for _, a := range addrs {
		var s *dnstest.Server
		if s, err = dnstest.New(a, dopts...); err != nil {
			return nil, err // a zone error
		}
		if err = s.Start(); err == nil {
			return s, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("DNS server: %w", err)
}

// reservePorts listens on n free TCP ports of ip with SO_REUSEPORT, which
// master sets too: it can bind the ports while we hold them, and as long
// as we do (until master has), no other process can take them. Without
// the reservation two instances could pick the same free port and, with
// SO_REUSEPORT, both bind it and share its connections.
func reservePorts(ip string, n int) ([]net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	var lns []net.Listener
	for range n {
		ln, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort(ip, "0"))
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// prereq is what Start needs from the machine.
type prereq struct {
	postconf, master, sh string
	version              string
	err                  error // the first missing prerequisite
}

var prerequisites = sync.OnceValue(func() prereq {
	var pr prereq
	pr.err = func() error {
		if os.Geteuid() != 0 {
			return errors.New("not running as root (namespaces, bind mounts and Postfix's privilege drop need it)")
		}
		var err error
		if pr.postconf, err = lookPath("postconf"); err != nil {
			return fmt.Errorf("postconf not found (apt-get install postfix): %w", err)
		}
		out, err := exec.Command(pr.postconf, "-dh", "daemon_directory", "mail_version").Output()
		lines := strings.Fields(string(out))
		if err != nil || len(lines) != 2 {
			return fmt.Errorf("postconf -dh daemon_directory mail_version: %v %q", err, out)
		}
		pr.master, pr.version = filepath.Join(lines[0], "master"), lines[1]
		if _, err := os.Stat(pr.master); err != nil {
			return fmt.Errorf("postfix master: %w", err)
		}
		var major, minor int
		if _, err := fmt.Sscanf(pr.version, "%d.%d", &major, &minor); err != nil || major < 3 || major == 3 && minor < 4 {
			return fmt.Errorf("postfix %s: want 3.4 or later (maillog_file, master -i)", pr.version)
		}
		if pr.sh, err = lookPath("sh"); err != nil {
			return err
		}
		if _, err := lookPath("mount"); err != nil {
			return err
		}
		if _, err := user.Lookup("postfix"); err != nil {
			return fmt.Errorf("user postfix: %w", err)
		}
		if _, err := user.LookupGroup("postdrop"); err != nil {
			return fmt.Errorf("group postdrop: %w", err)
		}
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"} {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("%s must exist to be bind-mounted over: %w", f, err)
			}
		}
		return nil
	}()
	return pr
})

// lookPath is exec.LookPath with the sbin directories, which a test's PATH
// may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in $PATH or the sbin directories", name)
}

var skipNotice sync.Once

// missing skips the test, or fails it with MXGUARD_E2E=1.
func missing(t testing.TB, err error) {
	t.Helper()
	if e2eRequired() {
		t.Fatalf("postfixtest: %s=1 and a prerequisite of the Postfix end-to-end tests is missing: %v", EnvE2E, err)
	}
	msg := fmt.Sprintf("postfixtest: SKIPPING the end-to-end tests with a real Postfix: %v. "+
		"Run them as root on Linux with the Debian postfix package installed; set %s=1 to make this a failure.", err, EnvE2E)
	skipNotice.Do(func() { fmt.Fprintf(os.Stderr, "\n!!! %s\n\n", msg) })
	t.Skip(msg)
}

func e2eRequired() bool {
	v, _ := strconv.ParseBool(os.Getenv(EnvE2E))
	return v
}
