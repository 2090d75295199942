package pgtest

import (
	"fmt"
	"os/user"
	"strconv"
)

// credential is a user and group to run a server process as.
type credential struct {
	uid, gid uint32
}

// lookupUnprivileged returns the credentials of unprivilegedUser.
func lookupUnprivileged() (*credential, error) {
	u, err := user.Lookup(unprivilegedUser)
	if err != nil {
		return nil, fmt.Errorf("tests run as root, and initdb and postgres refuse root, but user %s to run them as was not found: %w", unprivilegedUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s has a non-numeric uid %q: %w", unprivilegedUser, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s has a non-numeric gid %q: %w", unprivilegedUser, u.Gid, err)
	}
	return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
}
