package harness

import "syscall"

// sysProcAttr has a worker killed should its parent die without its
// cleanups (a test binary's timeout, a bench interrupted by SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
