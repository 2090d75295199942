//go:build !race

package media

// raceEnabled is true in a build with the race detector.
const raceEnabled = false
