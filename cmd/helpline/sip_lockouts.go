package main

import (
	"helpline/sip"
	"helpline/web"
)

// sipLockoutDeps adapts the registrar's authentication locks to the SIP
// lockout routes of the API.
func sipLockoutDeps(registrar *sip.Registrar) web.SIPLockoutDeps {
	return web.SIPLockoutDeps{
		List: func() []web.SIPLock {
			return toWebSIPLocks(registrar.AuthLocks())
		},
		Clear: func(user, source string) ([]web.SIPLock, error) {
			cleared, err := registrar.ClearAuthLocks(user, source)
			return toWebSIPLocks(cleared), err
		},
	}
}

// toWebSIPLocks converts the registrar's locks for the API.
func toWebSIPLocks(locks []sip.AuthLock) []web.SIPLock {
	list := make([]web.SIPLock, 0, len(locks))
	for _, lock := range locks {
		list = append(list, web.SIPLock{User: lock.User, Source: lock.Source.String(), Until: lock.Until})
	}
	return list
}
