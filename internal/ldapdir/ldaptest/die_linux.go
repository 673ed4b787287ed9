package ldaptest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel stop cmd when the test binary dies, so a
// test run that is killed leaves no slapd behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
