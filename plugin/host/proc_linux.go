package host

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the plugin if radmfa dies without
// closing it, so that no plugin outlives its host.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
