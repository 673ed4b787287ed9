//go:build !unix

package command

import "os/exec"

// killGroup leaves the default (kill the process) outside Unix.
func killGroup(*exec.Cmd) {}
