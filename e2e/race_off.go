//go:build !race

package e2e

// raceEnabled reports whether this test binary was built with -race; the
// binaries that BuildServer builds then get -race too.
const raceEnabled = false
