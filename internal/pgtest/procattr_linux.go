package pgtest

import "syscall"

// procAttr runs a server process as owner, when set. The process gets
// SIGQUIT (PostgreSQL's immediate shutdown) when the test binary dies
// without its cleanups, such as on a test timeout, so no server outlives
// the tests.
func procAttr(owner *credential) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if owner != nil {
		attr.Credential = &syscall.Credential{Uid: owner.uid, Gid: owner.gid, Groups: []uint32{}}
	}
	return attr
}
