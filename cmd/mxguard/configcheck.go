package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mxguard/mxguard/config"
)

func cmdConfigCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpath := fs.String("c", "", "configuration `file` (default: the embedded configuration)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, errors.New("")}
	}
	cfg, err := config.Load(*cpath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return &exitError{1, errors.New("")}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w.Error())
	}
	// Building the engine opens the access tables: their errors (file:line)
	// are configuration errors too.
	if _, err := newEngine(cfg, newLogger(cfg, io.Discard)); err != nil {
		fmt.Fprintln(stderr, err)
		return &exitError{1, errors.New("")}
	}
	y, err := cfg.YAML()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# effective configuration from %s\n", cfg.File())
	_, err = stdout.Write(y)
	return err
}
