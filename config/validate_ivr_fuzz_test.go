package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"helpline/ivr"
)

// fuzzNodeNames are the node names a FuzzValidateIVR graph draws from. The
// last two are not valid names, so that the name checks run too.
var fuzzNodeNames = []string{"welcome", "menu", "queue_ko", "goodbye", "transfer", "Welcome", "bad name"}

// fuzzQueues are the queues a FuzzValidateIVR graph may name.
var fuzzQueues = []string{"loneliness_ko", "loneliness_en"}

// graphReader turns fuzz bytes into graph parts, reading 0 once the bytes
// run out.
type graphReader struct {
	data []byte
}

func (r *graphReader) next() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

// name returns a node name, or "" for one value in eight.
func (r *graphReader) name() string {
	b := r.next()
	if b%8 == 7 {
		return ""
	}
	return fuzzNodeNames[int(b%8)%len(fuzzNodeNames)]
}

// edge returns an edge to a node, sometimes setting the language.
func (r *graphReader) edge() ivr.Edge {
	edge := ivr.Edge{Next: r.name()}
	if r.next()%4 == 0 {
		edge.Set = map[string]string{"language": "en"}
	}
	return edge
}

// node reads one node. Each flag byte turns a part on, so that nodes with
// no action, one action or several come out.
func (r *graphReader) node() ivr.Node {
	flags := r.next()
	node := ivr.Node{Play: []string{"welcome"}}
	if flags&1 != 0 {
		node.Collect = &ivr.Collect{
			MaxDigits:         int(r.next() % 3),
			MaxTries:          1 + int(r.next()%2),
			FirstDigitTimeout: time.Second,
			InterDigitTimeout: time.Second,
		}
		branches := int(r.next() % 3)
		if branches > 0 {
			node.Branches = make(map[string]ivr.Edge, branches)
		}
		for range branches {
			node.Branches[string("0123456789*#"[r.next()%12])] = r.edge()
		}
		if r.next()%2 == 0 {
			edge := r.edge()
			node.OnFail = &edge
		}
		if r.next()%2 == 0 {
			edge := r.edge()
			node.OnTimeout = &edge
		}
	}
	if flags&2 != 0 {
		node.Next = r.name()
	}
	if flags&4 != 0 {
		node.Queue = fuzzQueues[int(r.next())%len(fuzzQueues)]
	}
	if flags&8 != 0 {
		node.Transfer = generalServiceTarget
		node.Fallback = r.name()
	}
	if flags&16 != 0 {
		node.Hangup = true
	}
	return node
}

// graph reads a start node and up to eight nodes.
func (r *graphReader) graph() *ivr.Graph {
	g := &ivr.Graph{Start: r.name(), DefaultLanguage: "ko", Nodes: map[string]ivr.Node{}}
	for range int(r.next() % 9) {
		g.Nodes[r.name()] = r.node()
	}
	return g
}

// ivrSeeds are graphs in graphReader's encoding: the start node, the node
// count, then per node its name and flags and the parts the flags ask for.
var ivrSeeds = []struct {
	name  string
	data  []byte
	valid bool
}{
	{"collect to hangup", []byte{0, 2, 0, 1, 1, 0, 1, 1, 3, 1, 0, 3, 1, 1, 3, 16}, true},
	{"unreachable hangup", []byte{0, 2, 0, 16, 3, 16}, true},
	{"queue", []byte{0, 1, 0, 4, 0}, true},
	{"next loop", []byte{0, 2, 0, 2, 1, 1, 2, 0}, false},
	{"fallback to itself", []byte{0, 1, 0, 8, 0}, false},
	{"two actions", []byte{0, 1, 0, 20, 0}, false},
}

func TestGraphReaderSeeds(t *testing.T) {
	for _, seed := range ivrSeeds {
		t.Run(seed.name, func(t *testing.T) {
			ps, warnings := &problems{}, &problems{}
			validateIVR((&graphReader{data: seed.data}).graph(), fuzzQueues, ps, warnings)
			if valid := len(ps.list) == 0; valid != seed.valid {
				t.Errorf("valid = %v, want %v; problems %v", valid, seed.valid, ps.list)
			}
		})
	}
}

// FuzzValidateIVR builds menu graphs from bytes and validates them. Every
// problem names a key under ivr. When a graph passes, every node that no
// path from the start reaches has a warning, and no loop of moves without
// a digit (next, or a transfer's fallback) exists.
func FuzzValidateIVR(f *testing.F) {
	f.Add([]byte{})
	for _, seed := range ivrSeeds {
		f.Add(seed.data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		g := (&graphReader{data: data}).graph()
		ps, warnings := &problems{}, &problems{}
		validateIVR(g, fuzzQueues, ps, warnings)

		for _, p := range append(slices.Clone(ps.list), warnings.list...) {
			if !strings.HasPrefix(p.Key, "ivr.") {
				t.Errorf("problem %q is not under ivr", p.String())
			}
		}
		if len(ps.list) > 0 {
			return
		}
		checkReachableOrWarned(t, g, warnings.list)
		checkNoLoopWithoutInput(t, g)
	})
}

// checkReachableOrWarned verifies that every node of a valid graph is
// reached from the start or has a warning.
func checkReachableOrWarned(t *testing.T, g *ivr.Graph, warnings []Problem) {
	t.Helper()
	reached := map[string]bool{g.Start: true}
	pending := []string{g.Start}
	for len(pending) > 0 {
		node := g.Nodes[pending[0]]
		pending = pending[1:]
		targets := []string{node.Next, node.Fallback}
		for _, edge := range node.Branches {
			targets = append(targets, edge.Next)
		}
		for _, edge := range []*ivr.Edge{node.OnFail, node.OnTimeout} {
			if edge != nil {
				targets = append(targets, edge.Next)
			}
		}
		for _, target := range targets {
			if _, ok := g.Nodes[target]; ok && !reached[target] {
				reached[target] = true
				pending = append(pending, target)
			}
		}
	}

	for name := range g.Nodes {
		warned := slices.ContainsFunc(warnings, func(p Problem) bool { return p.Key == joinKey("ivr.nodes", name) })
		if !reached[name] && !warned {
			t.Errorf("node %q is unreachable from %q without a warning", name, g.Start)
		}
		if reached[name] && warned {
			t.Errorf("node %q is reachable from %q but has a warning", name, g.Start)
		}
	}
}

// checkNoLoopWithoutInput follows, from every node of a valid graph, the
// moves a call makes without a digit, and fails when a node repeats.
func checkNoLoopWithoutInput(t *testing.T, g *ivr.Graph) {
	t.Helper()
	for name := range g.Nodes {
		if path, ok := loopWithoutInput(g, name, nil); ok {
			t.Fatalf("valid graph has the loop %s without input", strings.Join(path, " → "))
		}
	}
}

// loopWithoutInput searches depth first along next and fallback moves of
// nodes that collect no digits, returning the path when it meets a node
// already on it.
func loopWithoutInput(g *ivr.Graph, name string, path []string) ([]string, bool) {
	if slices.Contains(path, name) {
		return append(path, name), true
	}
	node, ok := g.Nodes[name]
	if !ok {
		return nil, false
	}
	path = append(path, name)
	var moves []string
	if node.Collect == nil && node.Next != "" {
		moves = append(moves, node.Next)
	}
	if node.Transfer != "" && node.Fallback != "" {
		moves = append(moves, node.Fallback)
	}
	for _, target := range moves {
		if loop, found := loopWithoutInput(g, target, slices.Clone(path)); found {
			return loop, true
		}
	}
	return nil, false
}
