// Package records owns the durable call records, one row per call in an
// embedded SQLite database (Open) or in a PostgreSQL database that the nodes
// of a shared cluster write together (OpenPostgres). A row is written when
// the call starts and updated at each step. So a crash still leaves a
// trace, which MarkInterrupted closes at the next start-up. In a shared
// cluster each row names its node, and MarkNodeInterrupted closes the open
// rows of one node alone. The package also exports records as JSON Lines or
// CSV.
//
// Beside the calls the store keeps the event log: every event of the
// server's events.Bus, one row each in publishing order, written by an
// EventPersister and read back with ListEvents.
//
// The caller's number is personal data. It is stored only encrypted with
// AES-256-GCM under a key derived from the records key, with the call id as
// additional data, so a sealed number copied to another row does not
// decrypt. Beside it the store keeps an HMAC-SHA256 of the normalised
// number, so that FindByNumber finds the calls from one number without
// decrypting every row. Logs and exports show numbers masked (MaskNumber),
// except an export made with reveal set.
//
// Standards followed: HKDF (RFC 5869) with SHA-256 to derive the encryption
// and hashing subkeys, HMAC (RFC 2104), AES-GCM (NIST SP 800-38D), base64 and
// hex key encodings (RFC 4648), timestamps (RFC 3339), tel URIs (RFC 3966)
// and SIP URIs (RFC 3261) when normalising numbers, CSV (RFC 4180) and JSON
// (RFC 8259) for export. The PostgreSQL schema uses identity columns, which
// need PostgreSQL 10 or newer; the tests run against PostgreSQL 15.
package records
