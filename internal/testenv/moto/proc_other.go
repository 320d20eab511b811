//go:build unix && !linux

package moto

import "syscall"

// sysProcAttr puts moto_server in its own process group, so Stop can signal
// the group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
