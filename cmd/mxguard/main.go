// Command mxguard is an anti-spam milter for Postfix: one smtpd_milters
// entry that does the work of Postfix's anti-spam restrictions.
//
//	mxguard serve [-c FILE]                 run the milter
//	mxguard check [-c FILE] --ip ADDR ...   run the pipeline on one transaction
//	mxguard config check [-c FILE]          validate and print the configuration
//	mxguard postfix-config [-c FILE]        print the main.cf lines
//	mxguard doctor [--postfix-config DIR]   check Postfix's configuration
//	mxguard version
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set by the Makefile (-ldflags -X main.version=...).
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `mxguard — an anti-spam milter for Postfix

Usage:
  mxguard serve [-c FILE]
        Run the milter. Without -c, the embedded default configuration
        (listen inet:127.0.0.1:8891, system resolver). SIGHUP reloads the
        configuration and tables without dropping sessions; SIGTERM lets
        open sessions finish, then exits.
  mxguard check [-c FILE] --ip ADDR [--ptr NAME] [--helo NAME] [--from ADDR]
        [--rcpt ADDR]... [--message FILE.eml] [--auth USER] [--json]
        Run the same pipeline as the milter on one transaction, with real DNS
        lookups, and print the outcome. --from '<>' is the null sender.
        Exit status 0 whatever the verdict, 2 for usage or configuration
        errors.
  mxguard config check [-c FILE]
        Validate the configuration and print its effective values. Exit 1
        with every problem listed when it is invalid.
  mxguard postfix-config [-c FILE]
        Print the main.cf lines that wire Postfix to this configuration.
  mxguard doctor [-c FILE] [--postfix-config DIR]
        Read Postfix's configuration (postconf -n, or DIR) and /etc/resolv.conf
        and report, one finding per line with its fix: the milter not wired,
        a milter_default_action that loses mail or protection, missing macros,
        restrictions that duplicate mxguard's, an open relay, a public DNS
        resolver. Exit 1 when it found a problem.
  mxguard version
        Print the version.

Every configuration key can be overridden by an environment variable
MXGUARD_<KEY PATH> (for example MXGUARD_LISTEN, MXGUARD_DNS_SERVERS).
`

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "mxguard:", err)
	}
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("")}
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return &exitError{2, errors.New("usage: mxguard config check [-c FILE]")}
		}
		return cmdConfigCheck(args[2:], stdout, stderr)
	case "postfix-config":
		return cmdPostfixConfig(args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "mxguard", versionString())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{2, fmt.Errorf("unknown command %q", args[0])}
}
