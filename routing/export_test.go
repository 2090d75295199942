package routing

import "time"

// PassReport describes one walk of the queue to tests.
type PassReport struct {
	// Now is the clock reading the walk used.
	Now time.Time
	// Next is when the loop wakes on its own next, or zero for never.
	Next time.Time
	// InFlight is the number of offers out after the walk.
	InFlight int
	// Started is the number of offers started since Run began.
	Started int
}

// WithPassHook makes the Distributor call hook after each walk, on the Run
// goroutine.
func WithPassHook(hook func(PassReport)) Option {
	return func(d *Distributor) {
		d.passHook = func(report passReport) {
			hook(PassReport{Now: report.now, Next: report.next, InFlight: report.inFlight, Started: report.started})
		}
	}
}
