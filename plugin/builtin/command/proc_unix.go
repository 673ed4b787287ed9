//go:build unix

package command

import (
	"os/exec"
	"syscall"
)

// killGroup runs the program in its own process group and makes the
// context's cancellation kill the whole group, so that children it
// started die with it.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
