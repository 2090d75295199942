package ivr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// graphCheck collects what keeps a graph from running, each problem
// prefixed with its configuration key.
type graphCheck struct {
	graph    *Graph
	problems []error
}

// checkGraph reports what keeps g from running: a missing start node or
// default language, a node without exactly one ending, references to
// unknown nodes, collect settings below 1, and branches that can never
// match. The error wraps ErrInvalidGraph.
func checkGraph(g *Graph) error {
	if g == nil {
		return fmt.Errorf("ivr menu is missing: %w", ErrInvalidGraph)
	}

	check := &graphCheck{graph: g}
	if g.DefaultLanguage == "" {
		check.add("ivr.default_language", "missing; set it to the language of a new call, such as ko")
	}
	check.reference("ivr.start", g.Start)
	for _, name := range slices.Sorted(maps.Keys(g.Nodes)) {
		check.node("ivr.nodes."+name, g.Nodes[name])
	}

	if len(check.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidGraph, errors.Join(check.problems...))
}

func (gc *graphCheck) add(key, format string, args ...any) {
	gc.problems = append(gc.problems, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// reference checks that name is a node of the graph.
func (gc *graphCheck) reference(key, name string) {
	if name == "" {
		gc.add(key, "missing; name a node of ivr.nodes")
		return
	}
	if _, ok := gc.graph.Nodes[name]; !ok {
		gc.add(key, "node %q not found in ivr.nodes", name)
	}
}

func (gc *graphCheck) node(key string, node Node) {
	endings := countEndings(node)
	if endings != 1 {
		gc.add(key, "a node needs exactly one of collect, next, queue, transfer or hangup, but has %d", endings)
	}

	if node.Next != "" {
		gc.reference(key+".next", node.Next)
	}
	if node.Fallback != "" {
		gc.reference(key+".fallback", node.Fallback)
	}

	if node.Collect == nil {
		gc.rejectCollectFields(key, node)
		return
	}
	gc.collect(key+".collect", *node.Collect)
	gc.branches(key+".branches", node)
	if node.OnTimeout != nil {
		gc.reference(key+".on_timeout.next", node.OnTimeout.Next)
	}
	if node.OnFail != nil {
		gc.reference(key+".on_fail.next", node.OnFail.Next)
	}
}

func countEndings(node Node) int {
	endings := 0
	for _, set := range []bool{node.Collect != nil, node.Next != "", node.Queue != "", node.Transfer != "", node.Hangup} {
		if set {
			endings++
		}
	}
	return endings
}

// rejectCollectFields flags branch settings on a node that collects
// nothing, because the runner would never use them.
func (gc *graphCheck) rejectCollectFields(key string, node Node) {
	if len(node.Branches) > 0 {
		gc.add(key+".branches", "only a node with collect uses branches")
	}
	if node.OnTimeout != nil {
		gc.add(key+".on_timeout", "only a node with collect uses on_timeout")
	}
	if node.OnFail != nil {
		gc.add(key+".on_fail", "only a node with collect uses on_fail")
	}
}

func (gc *graphCheck) collect(key string, spec Collect) {
	if spec.MaxDigits < 1 {
		gc.add(key+".max_digits", "%d is invalid; set it to 1 or more", spec.MaxDigits)
	}
	if spec.MaxTries < 1 {
		gc.add(key+".max_tries", "%d is invalid; set it to 1 or more", spec.MaxTries)
	}
	if spec.FirstDigitTimeout <= 0 {
		gc.add(key+".first_digit_timeout", "%s is invalid; set a positive duration such as 5s", spec.FirstDigitTimeout)
	}
	if spec.InterDigitTimeout <= 0 {
		gc.add(key+".inter_digit_timeout", "%s is invalid; set a positive duration such as 3s", spec.InterDigitTimeout)
	}
}

// branches checks that every branch can match a collected entry and leads
// to a known node.
func (gc *graphCheck) branches(key string, node Node) {
	if len(node.Branches) == 0 {
		gc.add(key, "missing; a node with collect needs at least one branch")
	}

	for _, digits := range slices.Sorted(maps.Keys(node.Branches)) {
		branchKey := key + "." + digits
		switch {
		case !isKeySequence(digits):
			gc.add(branchKey, "%q can never match: use the keys 0-9, *, A-D, without #, which ends an entry", digits)
		case len(digits) > node.Collect.MaxDigits:
			gc.add(branchKey, "%q can never match: it is longer than collect.max_digits (%d)", digits, node.Collect.MaxDigits)
		}
		gc.reference(branchKey+".next", node.Branches[digits].Next)
	}
}

// isKeySequence reports whether s is a non-empty string of DTMF keys that a
// collection can return, which excludes the terminator.
func isKeySequence(s string) bool {
	if s == "" || strings.ContainsRune(s, terminator) {
		return false
	}
	for _, key := range s {
		if !isDTMFKey(key) {
			return false
		}
	}
	return true
}
