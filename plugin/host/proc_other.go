//go:build !linux

package host

import "os/exec"

// setProcAttr does nothing outside Linux: plugins exit when go-plugin
// closes their connection.
func setProcAttr(*exec.Cmd) {}
