// Package web serves the HTTP side of helpline: the authenticated JSON API
// that the counselor console and the supervisor board use to read the
// queue and change counselor states.
//
// Every route is registered on one API value, which checks the bearer
// token before any handler runs. Handlers answer in JSON, and an error is
// a JSON object {"error": "..."} with an HTTP status that says what kind of
// failure it was.
package web
