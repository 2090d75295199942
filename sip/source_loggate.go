package sip

import (
	"sync"
	"time"
)

const (
	// sourceLogInterval is how often a rejection that a peer can repeat
	// at will is logged for one source. The others are counted.
	sourceLogInterval = time.Minute
	// maxLogSources bounds the sources a sourceLogGates tracks, so that a
	// flood with forged addresses cannot grow it without limit. Sources
	// past it share one gate.
	maxLogSources = 4096
	// otherSources is the key of the shared gate of untracked sources.
	otherSources = "other"
)

// sourceLogGates lets one line of a kind through per source per
// sourceLogInterval and counts the lines it held back. The zero value is
// ready to use.
type sourceLogGates struct {
	mu sync.Mutex
	// gates maps a source to its gate; guarded by mu.
	gates map[string]*sourceGate
}

// sourceGate is the state of one source in a sourceLogGates.
type sourceGate struct {
	last       time.Time
	suppressed int
}

// allow reports whether a line about source may be logged at now, and how
// many lines about it were held back since the last one let through.
func (g *sourceLogGates) allow(source string, now time.Time) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates == nil {
		g.gates = make(map[string]*sourceGate)
	}

	gate, ok := g.gates[source]
	if !ok {
		if len(g.gates) >= maxLogSources {
			g.pruneLocked(now)
		}
		if len(g.gates) >= maxLogSources {
			source = otherSources
		}
		gate = g.gates[source]
		if gate == nil {
			gate = &sourceGate{}
			g.gates[source] = gate
		}
	}

	if !gate.last.IsZero() && now.Sub(gate.last) < sourceLogInterval {
		gate.suppressed++
		return 0, false
	}
	suppressed := gate.suppressed
	gate.last, gate.suppressed = now, 0
	return suppressed, true
}

// pruneLocked deletes the sources whose interval has passed and that held
// nothing back. The caller holds mu.
func (g *sourceLogGates) pruneLocked(now time.Time) {
	for source, gate := range g.gates {
		if gate.suppressed == 0 && now.Sub(gate.last) >= sourceLogInterval {
			delete(g.gates, source)
		}
	}
}
