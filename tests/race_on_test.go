//go:build race

package tests

// raceEnabled builds the server with the race detector when the tests run
// with it, so races in the server fail the run too.
const raceEnabled = true
