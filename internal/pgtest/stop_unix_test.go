//go:build unix

package pgtest

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestStopEndsServerAndRemovesFolder(t *testing.T) {
	srv := Start(t)
	pid := srv.cmd.Process.Pid
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to postgres pid %d after Stop: %v, want ESRCH", pid, err)
	}
	if _, err := os.Stat(srv.dir); !os.IsNotExist(err) {
		t.Errorf("server folder %s after Stop: %v, want it removed", srv.dir, err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v, want nil", err)
	}
}
