package sip

import (
	"errors"
	"fmt"
	"slices"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/records"
)

var (
	// ErrNoOutboundRoute is returned for an outside call while
	// trunk.outbound_uri is empty.
	ErrNoOutboundRoute = errors.New("no outbound route: set trunk.outbound_uri to call outside numbers")
	// ErrTargetNotAllowed is returned for a transfer or emergency target
	// that trunk.allowed_targets does not list.
	ErrTargetNotAllowed = errors.New("target not in trunk.allowed_targets")
)

// outsideURI returns the URI that dials number through the outbound
// gateway: the gateway URI with number as its user part.
func (s *Server) outsideURI(number string) (sipmsg.Uri, error) {
	if s.opts.OutboundURI == "" {
		return sipmsg.Uri{}, ErrNoOutboundRoute
	}
	if number == "" {
		return sipmsg.Uri{}, errors.New("outside number is empty")
	}
	var uri sipmsg.Uri
	if err := sipmsg.ParseUri(s.opts.OutboundURI, &uri); err != nil {
		return sipmsg.Uri{}, fmt.Errorf("parsing trunk.outbound_uri %q: %w", s.opts.OutboundURI, err)
	}
	uri.User = number
	uri.Password = ""
	return uri, nil
}

// targetAllowed reports whether number may be transferred to or called
// into a running call.
func (s *Server) targetAllowed(number string) bool {
	return number != "" && slices.Contains(s.opts.AllowedTargets, number)
}

// loggableTarget returns number as logs may show it. An allowed target
// (a service number such as 119) is shown in full. Any other number is
// masked, because a number that a counselor mistyped or a fraudster tried
// can be a person's phone number.
func (s *Server) loggableTarget(number string) string {
	if s.targetAllowed(number) {
		return number
	}
	return records.MaskNumber(number)
}
