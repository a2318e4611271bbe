package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestDebianPackage builds the .deb with `make deb`'s script, installs it
// with dpkg, runs the installed mxguard and purges it (deploy/test-deb.sh).
func TestDebianPackage(t *testing.T) {
	if os.Getenv("MXGUARD_E2E") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root and MXGUARD_E2E=1 (set by .ci/run): builds and installs the Debian package")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatal("MXGUARD_E2E=1 but no dpkg")
	}
	cmd := exec.Command("deploy/test-deb.sh")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	t.Log(string(out))
	if err != nil {
		t.Fatal(err)
	}
}
