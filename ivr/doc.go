// Package ivr runs the "press a number" menu of a call. The menu is a graph
// of nodes from the configuration. Each node plays prompts, may collect
// DTMF digits with timeouts and tries, and sets call attributes such as
// language and caller type. The menu ends by sending the caller to a queue,
// transferring, or hanging up.
//
// The runner talks to a small Media interface, so it is tested without
// sockets. Digits reach it as runes: the caller of Run merges RFC 4733
// telephone-events and SIP INFO (RFC 6086) DTMF into one channel. The
// package also carries the built-in Korean and English prompts as 8 kHz
// mono 16-bit PCM WAV files and hands their bytes to the media layer, which
// decodes them.
package ivr
