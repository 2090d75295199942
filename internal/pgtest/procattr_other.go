//go:build !unix

package pgtest

import "syscall"

// procAttr returns nil: without Unix users, servers run as the test's user.
func procAttr(*credential) *syscall.SysProcAttr {
	return nil
}
