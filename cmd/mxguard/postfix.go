package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mxguard/mxguard/postfixcfg"
)

func cmdPostfixConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("postfix-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpath := fs.String("c", "", "configuration `file` (default: the embedded configuration)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("postfix-config: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := loadConfig(*cpath)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, postfixcfg.MainCF(postfixcfg.Options{Listen: cfg.Listen, CheckTimeout: cfg.Timeouts.Check}))
	return err
}

func cmdDoctor(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpath := fs.String("c", "", "configuration `file` (default: the embedded configuration)")
	pdir := fs.String("postfix-config", "", "Postfix's configuration `directory` (default: postconf's own, /etc/postfix)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := loadConfig(*cpath)
	if err != nil {
		return err
	}
	findings, err := postfixcfg.Doctor(context.Background(), postfixcfg.DoctorOptions{
		Listen: cfg.Listen, CheckTimeout: cfg.Timeouts.Check, DNSServers: cfg.DNS.Servers,
		Postfix: postfixcfg.ReadOptions{Dir: *pdir},
	})
	if err != nil {
		return &exitError{1, fmt.Errorf("doctor: %w", err)}
	}
	if err := postfixcfg.Write(stdout, findings); err != nil {
		return err
	}
	if postfixcfg.HasProblems(findings) {
		return &exitError{1, errors.New("")}
	}
	return nil
}
