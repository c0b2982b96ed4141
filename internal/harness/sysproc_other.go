//go:build !linux

package harness

import "syscall"

// sysProcAttr: only Linux kills a child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr { return nil }
