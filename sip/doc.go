// Package sip owns the signalling of the helpline server: the UDP, TCP and
// TLS listeners (TLS with a certificate that CertificateStore reloads),
// trunk trust, the registrar for counselor softphones, and the
// back-to-back user agent (B2BUA) that ties the caller's leg from the 120
// trunk to the counselor's leg.
//
// It follows RFC 3261 for transactions and dialogs (with RFC 6026 for 2xx
// retransmission), RFC 3581 for rport/received, RFC 3325 and RFC 3323 for
// P-Asserted-Identity and Privacy, RFC 3264 for offer/answer (through the
// media package), RFC 7616 and RFC 8760 for digest authentication,
// RFC 6086 for INFO digits, and RFC 3327 for Path: requests to a phone
// registered through a proxy follow the Path it stored. SIP over TLS
// follows RFC 3261 section 26 with sip: URIs and transport=tls, and
// requests to a phone registered over TLS or TCP reuse its connection.
// SecurityPolicy requires TLS and SRTP of counselors outside the office.
//
// The package hands each answered call to the IVR through a media session,
// puts the caller in the queue, and rings counselors when the routing
// distributor reserves one. It never decides routing itself.
package sip
