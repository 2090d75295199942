package config

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"helpline/ivr"
)

// generalServiceTarget is the transfer target that stands for
// trunk.general_service_uri.
const generalServiceTarget = "general_service"

// languages are the prompt languages.
var languages = []string{"ko", "en"}

// setValues lists, for each call attribute that a node or edge may set,
// the values allowed.
var setValues = map[string][]string{
	"language":    languages,
	"caller_type": {"self", "someone_else"},
	// priority high_risk puts the caller ahead of everyone waiting in the
	// queue and tells supervisors at once.
	"priority": {"high_risk"},
}

var (
	// nodeNamePattern admits lower-case names only, because viper lowers
	// the case of mapping keys and an upper-case reference would not match.
	nodeNamePattern = regexp.MustCompile(`^[a-z0-9_-]+$`)
	// dtmfPattern matches the digits that a branch may wait for.
	dtmfPattern = regexp.MustCompile(`^[0-9*#]+$`)
)

// nodeActions names the ways a node can end, as listed in messages.
const nodeActions = "collect, next, queue, transfer or hangup: true"

// menu carries what the node checks need beyond one node.
type menu struct {
	graph      *ivr.Graph
	names      []string
	queueNames []string
}

// validateIVR checks the menu graph: the start node, every node reference,
// the shape of each node, and loops that no digit can leave. Nodes that no
// call can reach are warnings. Prompt files are checked by package ivr.
func validateIVR(g *ivr.Graph, queueNames []string, ps, warnings *problems) {
	if !slices.Contains(languages, g.DefaultLanguage) {
		ps.add("ivr.default_language", g.DefaultLanguage, "is not a prompt language: use one of %s", strings.Join(languages, ", "))
	}
	validatePromptName(ps, "ivr.hold_prompt", g.HoldPrompt, false)
	validatePromptName(ps, "ivr.hold_music", g.HoldMusic, false)
	if len(g.Nodes) == 0 {
		ps.add("ivr.nodes", nil, "must list at least one node")
		return
	}

	m := menu{graph: g, names: slices.Sorted(maps.Keys(g.Nodes)), queueNames: queueNames}
	m.checkReference(ps, "ivr.start", g.Start)
	for _, name := range m.names {
		m.validateNode(ps, name, g.Nodes[name])
	}
	m.checkLoops(ps)
	if _, ok := g.Nodes[g.Start]; ok {
		m.warnUnreachable(warnings)
	}
}

func (m menu) validateNode(ps *problems, name string, node ivr.Node) {
	key := joinKey("ivr.nodes", name)
	if !nodeNamePattern.MatchString(name) {
		ps.add(key, name, "is not a valid node name: use lower-case letters, digits, _ and -")
	}
	validateSet(ps, key+".set", node.Set)
	for i, prompt := range node.Play {
		validatePromptName(ps, joinKey(key+".play", strconv.Itoa(i)), prompt, true)
	}
	validateActions(ps, key, node)

	m.validateCollectPart(ps, key, node)
	if node.Next != "" {
		m.checkReference(ps, key+".next", node.Next)
	}
	if node.Queue != "" && !slices.Contains(m.queueNames, node.Queue) {
		ps.add(key+".queue", node.Queue, "is not a configured queue: use one of %s, or add it to queues", strings.Join(m.queueNames, ", "))
	}
	m.validateTransfer(ps, key, node)
}

// validateActions checks that a node ends in exactly one way.
func validateActions(ps *problems, key string, node ivr.Node) {
	var actions []string
	if node.Collect != nil {
		actions = append(actions, "collect")
	}
	if node.Next != "" {
		actions = append(actions, "next")
	}
	if node.Queue != "" {
		actions = append(actions, "queue")
	}
	if node.Transfer != "" {
		actions = append(actions, "transfer")
	}
	if node.Hangup {
		actions = append(actions, "hangup")
	}

	switch len(actions) {
	case 0:
		ps.add(key, nil, "does nothing after its prompts: give it one of %s", nodeActions)
	case 1:
	default:
		ps.add(key, nil, "has %s: a node does exactly one of %s", strings.Join(actions, " and "), nodeActions)
	}
}

// validateCollectPart checks collect and the edges that only a collecting
// node takes: branches, on_timeout and on_fail.
func (m menu) validateCollectPart(ps *problems, key string, node ivr.Node) {
	if node.Collect == nil {
		for _, part := range []struct {
			name    string
			present bool
		}{
			{"branches", len(node.Branches) > 0},
			{"on_timeout", node.OnTimeout != nil},
			{"on_fail", node.OnFail != nil},
		} {
			if part.present {
				ps.add(key+"."+part.name, nil, "is used only by a node with collect: add collect or remove %s", part.name)
			}
		}
		return
	}

	validateCollect(ps, key+".collect", node.Collect)
	if len(node.Branches) == 0 {
		ps.add(key+".branches", nil, "must list at least one digit string for a node with collect")
	}
	for _, digits := range slices.Sorted(maps.Keys(node.Branches)) {
		branchKey := joinKey(key+".branches", digits)
		validateBranchDigits(ps, branchKey, digits, node.Collect.MaxDigits)
		m.validateEdge(ps, branchKey, node.Branches[digits])
	}
	if node.OnTimeout != nil {
		m.validateEdge(ps, key+".on_timeout", *node.OnTimeout)
	}
	if node.OnFail == nil {
		ps.add(key+".on_fail", nil, "must be set for a node with collect, so that a caller who presses no valid key still moves on")
		return
	}
	m.validateEdge(ps, key+".on_fail", *node.OnFail)
}

func validateCollect(ps *problems, key string, c *ivr.Collect) {
	if c.MaxDigits < 1 {
		ps.add(key+".max_digits", c.MaxDigits, "must be at least 1")
	}
	if c.MaxTries < 1 {
		ps.add(key+".max_tries", c.MaxTries, "must be at least 1")
	}
	requirePositive(ps, key+".first_digit_timeout", c.FirstDigitTimeout)
	requirePositive(ps, key+".inter_digit_timeout", c.InterDigitTimeout)
	validatePromptName(ps, key+".invalid_prompt", c.InvalidPrompt, false)
}

// validateBranchDigits checks a branch's digit string. A string longer
// than max_digits could never be collected.
func validateBranchDigits(ps *problems, key, digits string, maxDigits int) {
	if !dtmfPattern.MatchString(digits) {
		ps.add(key, digits, "is not a digit string: use the DTMF keys 0-9, * and #")
		return
	}
	if maxDigits >= 1 && len(digits) > maxDigits {
		ps.add(key, digits, "has more digits than collect.max_digits (%d), so no caller can reach it", maxDigits)
	}
}

func (m menu) validateEdge(ps *problems, key string, edge ivr.Edge) {
	validateSet(ps, key+".set", edge.Set)
	m.checkReference(ps, key+".next", edge.Next)
}

// validateTransfer checks transfer and fallback, which only a transfer
// node uses.
func (m menu) validateTransfer(ps *problems, key string, node ivr.Node) {
	if node.Transfer == "" {
		if node.Fallback != "" {
			ps.add(key+".fallback", node.Fallback, "is used only by a node with transfer: remove it or add transfer")
		}
		return
	}
	if node.Transfer != generalServiceTarget {
		if message, ok := checkSIPURI(node.Transfer); !ok {
			ps.add(key+".transfer", node.Transfer, "%s, or %q for trunk.general_service_uri", message, generalServiceTarget)
		}
	}
	if node.Fallback == "" {
		ps.add(key+".fallback", nil, "must name a node for a transfer node: the call goes there when the transfer target is empty")
		return
	}
	m.checkReference(ps, key+".fallback", node.Fallback)
}

// validateSet checks the call attributes that a node or edge sets.
func validateSet(ps *problems, key string, set map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(set)) {
		allowed, known := setValues[name]
		attributeKey := joinKey(key, name)
		switch {
		case !known:
			ps.add(attributeKey, nil, "is not a call attribute: use one of %s", strings.Join(slices.Sorted(maps.Keys(setValues)), ", "))
		case !slices.Contains(allowed, set[name]):
			ps.add(attributeKey, set[name], "is not allowed: use one of %s", strings.Join(allowed, ", "))
		}
	}
}

// validatePromptName checks a prompt name, which becomes a file name under
// ivr.prompt_dir and so must not hold a folder.
func validatePromptName(ps *problems, key, name string, required bool) {
	switch {
	case name == "" && required:
		ps.add(key, nil, "must not be empty: name a prompt, such as welcome")
	case name != "" && !plainNamePattern.MatchString(name):
		ps.add(key, name, "is not a prompt name: use letters, digits, _ and -")
	}
}

// checkReference checks that target names a node.
func (m menu) checkReference(ps *problems, key, target string) {
	if _, ok := m.graph.Nodes[target]; ok {
		return
	}
	lower := strings.ToLower(target)
	_, lowerExists := m.graph.Nodes[lower]
	switch {
	case target == "":
		ps.add(key, nil, "must name a node: use one of %s", strings.Join(m.names, ", "))
	case lower != target && lowerExists:
		ps.add(key, target, "is not a node: node names are read in lower case, so write %q", lower)
	default:
		ps.add(key, target, "is not a node: use one of %s", strings.Join(m.names, ", "))
	}
}

// autoEdges returns the moves that a node makes without a digit: next,
// and fallback for a transfer, each with the key that sets it.
func autoEdges(name string, node ivr.Node) map[string]string {
	edges := make(map[string]string)
	key := joinKey("ivr.nodes", name)
	if node.Collect == nil && node.Next != "" {
		edges[key+".next"] = node.Next
	}
	if node.Transfer != "" && node.Fallback != "" {
		edges[key+".fallback"] = node.Fallback
	}
	return edges
}

// checkLoops reports cycles made only of moves without a digit. A call in
// such a loop would replay prompts forever, or spin without any prompt.
func (m menu) checkLoops(ps *problems) {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[string]int)
	var path []string

	var visit func(name string)
	visit = func(name string) {
		state[name] = onPath
		path = append(path, name)
		edges := autoEdges(name, m.graph.Nodes[name])
		for _, key := range slices.Sorted(maps.Keys(edges)) {
			target := edges[key]
			if _, exists := m.graph.Nodes[target]; !exists {
				continue
			}
			switch state[target] {
			case onPath:
				loop := append(slices.Clone(path[slices.Index(path, target):]), target)
				ps.add(key, target, "closes the loop %s, in which no node collects digits, so a call never leaves it: end the loop with a collect, queue, transfer or hangup node", strings.Join(loop, " → "))
			case unvisited:
				visit(target)
			}
		}
		path = path[:len(path)-1]
		state[name] = done
	}

	for _, name := range m.names {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// warnUnreachable warns about nodes that no path from ivr.start reaches.
func (m menu) warnUnreachable(warnings *problems) {
	reached := map[string]bool{m.graph.Start: true}
	queue := []string{m.graph.Start}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, target := range successors(m.graph.Nodes[name]) {
			if _, exists := m.graph.Nodes[target]; exists && !reached[target] {
				reached[target] = true
				queue = append(queue, target)
			}
		}
	}
	for _, name := range m.names {
		if !reached[name] {
			warnings.add(joinKey("ivr.nodes", name), nil, "is not reachable from ivr.start %q, so no call enters it", m.graph.Start)
		}
	}
}

// successors returns every node that node can move to.
func successors(node ivr.Node) []string {
	targets := []string{node.Next, node.Fallback}
	for _, edge := range node.Branches {
		targets = append(targets, edge.Next)
	}
	for _, edge := range []*ivr.Edge{node.OnTimeout, node.OnFail} {
		if edge != nil {
			targets = append(targets, edge.Next)
		}
	}
	return targets
}
