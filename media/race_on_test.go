//go:build race

package media

// raceEnabled is true in a build with the race detector, whose sync.Pool
// drops items at random, so pooled buffers allocate again.
const raceEnabled = true
