package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The walk in this file compares the settings that viper read with the
// mapstructure tags of Config. It reports keys that no field has and values
// that cannot become their field's type, each under its full key, before
// mapstructure decodes anything. Each message states what to write instead.

// Types of the leaves that need more than mapstructure's weak typing.
var (
	durationType = reflect.TypeFor[time.Duration]()
	addrType     = reflect.TypeFor[netip.Addr]()
	addrPortType = reflect.TypeFor[netip.AddrPort]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// maxSuggestionDistance is the largest edit distance at which an unknown
// key is taken for a typo of a known one.
const maxSuggestionDistance = 2

// checkSchema reports unknown keys and undecodable values in value, which
// viper read for key, against the type t of the field it fills.
func checkSchema(ps *problems, key string, value any, t reflect.Type) {
	switch {
	case t.Kind() == reflect.Pointer:
		checkSchema(ps, key, value, t.Elem())
	case t == durationType:
		checkDuration(ps, key, value)
	case t == addrType:
		checkAddr(ps, key, value)
	case t == addrPortType:
		checkAddrPort(ps, key, value)
	case t == prefixType:
		checkPrefix(ps, key, value)
	case t.Kind() == reflect.Struct:
		checkSection(ps, key, value, t)
	case t.Kind() == reflect.Slice:
		checkList(ps, key, value, t)
	case t.Kind() == reflect.Map:
		checkMap(ps, key, value, t)
	case t.Kind() == reflect.String:
		checkString(ps, key, value)
	case t.Kind() == reflect.Int:
		checkInt(ps, key, value)
	case t.Kind() == reflect.Bool:
		checkBool(ps, key, value)
	default:
		ps.add(key, nil, "has the unsupported field type %s", t)
	}
}

// checkSection walks a mapping that fills a struct: known keys in field
// order, then unknown keys in name order.
func checkSection(ps *problems, key string, value any, t reflect.Type) {
	settings, ok := value.(map[string]any)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not a mapping: write its keys as indented \"key: value\" lines")
		return
	}

	known := fieldKeys(t)
	for _, name := range known {
		if child, present := settings[name]; present {
			field, _ := fieldByKey(t, name)
			checkSchema(ps, joinKey(key, name), child, field.Type)
		}
	}

	var unknown []string
	for name := range settings {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		if name == "" {
			ps.add(joinKey(key, emptyKeyName), nil, "is an empty key: keys are split at '.', so a key that is empty, begins or ends with '.' or holds '..' cannot be read; rename it")
			continue
		}
		ps.add(joinKey(key, name), nil, "%s", unknownKeyMessage(key, name, known))
	}
}

// emptyKeyName stands for an empty mapping key in a problem's key, which
// would otherwise read as the parent key or as nothing at all.
const emptyKeyName = `""`

// unknownKeyMessage names the nearest known key, or lists the known keys
// when none is close.
func unknownKeyMessage(parent, name string, known []string) string {
	nearest, distance := nearestWord(name, known)
	if nearest != "" && distance <= maxSuggestionDistance {
		return fmt.Sprintf("unknown key: did you mean %q?", joinKey(parent, nearest))
	}
	return "unknown key: use one of " + strings.Join(known, ", ")
}

func checkList(ps *problems, key string, value any, t reflect.Type) {
	items, ok := value.([]any)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not a list: write [a, b] or one \"- item\" line per entry")
		return
	}
	for i, item := range items {
		checkSchema(ps, joinKey(key, strconv.Itoa(i)), item, t.Elem())
	}
}

func checkMap(ps *problems, key string, value any, t reflect.Type) {
	entries, ok := value.(map[string]any)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not a mapping: write its entries as indented \"name: value\" lines")
		return
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		checkSchema(ps, joinKey(key, name), entries[name], t.Elem())
	}
}

func checkString(ps *problems, key string, value any) {
	switch value.(type) {
	case string:
	case int, int64, uint64, float64:
		ps.add(key, value, "is a number, not text: put it in quotes, because YAML drops leading zeros and reads 0120 as an octal number")
	case bool:
		ps.add(key, value, "is a boolean, not text: put it in quotes")
	default:
		ps.add(key, scalarOrNil(value), "is not text: write a single value")
	}
}

func checkInt(ps *problems, key string, value any) {
	switch v := value.(type) {
	case int, int64, uint64:
	case string:
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			ps.add(key, value, "is not a whole number")
		}
	default:
		ps.add(key, scalarOrNil(value), "is not a whole number")
	}
}

func checkBool(ps *problems, key string, value any) {
	switch v := value.(type) {
	case bool:
	case string:
		if _, err := strconv.ParseBool(strings.TrimSpace(v)); err != nil {
			ps.add(key, value, "is not a boolean: use true or false")
		}
	default:
		ps.add(key, scalarOrNil(value), "is not a boolean: use true or false")
	}
}

// checkDuration accepts Go duration syntax, and a bare 0 because YAML
// writes it without a unit. Any other bare number is rejected: it would
// silently mean nanoseconds.
func checkDuration(ps *problems, key string, value any) {
	switch v := value.(type) {
	case string:
		if _, err := time.ParseDuration(strings.TrimSpace(v)); err != nil {
			ps.add(key, value, "is not a duration: use Go syntax such as 15s")
		}
	case int:
		if v != 0 {
			ps.add(key, value, "is not a duration: add a unit, such as %ds", v)
		}
	default:
		ps.add(key, scalarOrNil(value), "is not a duration: use Go syntax such as 15s")
	}
}

func checkAddr(ps *problems, key string, value any) {
	text, ok := value.(string)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not an IP address: use a form such as 192.0.2.10 or 2001:db8::10")
		return
	}
	if _, err := parseOptionalAddr(text); err != nil {
		ps.add(key, value, "is not an IP address: use a form such as 192.0.2.10 or 2001:db8::10")
	}
}

func checkAddrPort(ps *problems, key string, value any) {
	text, ok := value.(string)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not an IP address and port: use a form such as 127.0.0.1:5060 or [::1]:5060")
		return
	}
	if _, err := netip.ParseAddrPort(strings.TrimSpace(text)); err != nil {
		ps.add(key, value, "is not an IP address and port: use a form such as 127.0.0.1:5060 or [::1]:5060")
	}
}

func checkPrefix(ps *problems, key string, value any) {
	text, ok := value.(string)
	if !ok {
		ps.add(key, scalarOrNil(value), "is not a network in CIDR notation: use a form such as 192.0.2.0/24 or 2001:db8::/32")
		return
	}
	prefix, err := parsePrefix(text)
	if err != nil {
		ps.add(key, value, "is not a network in CIDR notation: use a form such as 192.0.2.0/24 or 2001:db8::/32")
		return
	}
	if prefix != prefix.Masked() {
		ps.add(key, value, "has address bits set after the prefix length: write %s", prefix.Masked())
	}
}

// parsePrefix parses CIDR notation, and takes a bare IP address as a
// single-host network.
func parsePrefix(text string) (netip.Prefix, error) {
	text = strings.TrimSpace(text)
	if !strings.Contains(text, "/") {
		addr, err := netip.ParseAddr(text)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	return netip.ParsePrefix(text)
}

// parseOptionalAddr parses an IP address. Empty text gives the zero Addr.
func parseOptionalAddr(text string) (netip.Addr, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(text)
}

// fieldKeys returns the mapstructure keys of t's fields in field order.
func fieldKeys(t reflect.Type) []string {
	var keys []string
	for field := range t.Fields() {
		if name := tagName(field); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// fieldByKey returns the field of t whose mapstructure key is name.
func fieldByKey(t reflect.Type, name string) (reflect.StructField, bool) {
	for field := range t.Fields() {
		if tagName(field) == name {
			return field, true
		}
	}
	return reflect.StructField{}, false
}

// tagName returns the mapstructure key of a field, or "" for a field that
// the configuration file does not set.
func tagName(field reflect.StructField) string {
	name, _, _ := strings.Cut(field.Tag.Get("mapstructure"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// joinKey appends name to a dotted key.
func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// scalarOrNil returns value when it prints well in a message, and nil for
// lists and mappings.
func scalarOrNil(value any) any {
	switch value.(type) {
	case map[string]any, []any:
		return nil
	default:
		return value
	}
}

// nearestWord returns the candidate with the smallest edit distance to
// word, and that distance.
func nearestWord(word string, candidates []string) (string, int) {
	best, bestDistance := "", -1
	for _, candidate := range candidates {
		distance := editDistance(word, candidate)
		if bestDistance < 0 || distance < bestDistance {
			best, bestDistance = candidate, distance
		}
	}
	return best, bestDistance
}

// editDistance is the Levenshtein distance between a and b in bytes, which
// is enough for the ASCII keys of this configuration.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			substitution := previous[j-1]
			if a[i-1] != b[j-1] {
				substitution++
			}
			current[j] = min(previous[j]+1, current[j-1]+1, substitution)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
