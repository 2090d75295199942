package config

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// envPrefix starts every environment variable that overrides a key.
const envPrefix = "HELPLINE_"

// listenSeparator splits network from address in one HELPLINE_SIP_LISTEN
// entry, as in "udp/127.0.0.1:5060".
const listenSeparator = "/"

// listSeparator splits the entries of a list given in one variable.
const listSeparator = ","

// envKind selects how the text of a variable becomes a value.
type envKind int

const (
	// envScalar passes the text on, and the schema walk parses it.
	envScalar envKind = iota
	// envList splits comma-separated text into a list of strings.
	envList
	// envListeners splits comma-separated network/address entries.
	envListeners
	// envFileOnly marks a key that only the YAML file can set.
	envFileOnly
)

// envKeys maps each variable name, such as HELPLINE_QUEUE_RING_TIMEOUT, to
// its key and kind. It is built once from the tags of Config.
var envKeys = buildEnvKeys()

type envKey struct {
	key       string
	kind      envKind
	fieldType reflect.Type
}

func buildEnvKeys() map[string]envKey {
	keys := make(map[string]envKey)
	addEnvKeys(keys, "", reflect.TypeFor[Config]())
	return keys
}

// addEnvKeys adds the keys below parent, whose fields are those of t.
func addEnvKeys(keys map[string]envKey, parent string, t reflect.Type) {
	for field := range t.Fields() {
		name := tagName(field)
		if name == "" {
			continue
		}
		key := joinKey(parent, name)
		kind, nested := envKindOf(field.Type)
		if nested {
			addEnvKeys(keys, key, field.Type)
			continue
		}
		keys[EnvName(key)] = envKey{key: key, kind: kind, fieldType: field.Type}
	}
}

// envKindOf returns how a field of type t is set from a variable, and
// whether t is a section whose own fields are the keys.
func envKindOf(t reflect.Type) (envKind, bool) {
	switch {
	case t == reflect.TypeFor[[]Listener]():
		return envListeners, false
	case t.Kind() == reflect.Slice && (t.Elem().Kind() == reflect.String || t.Elem() == prefixType):
		return envList, false
	case t.Kind() == reflect.Slice, t.Kind() == reflect.Map:
		return envFileOnly, false
	case t.Kind() == reflect.Struct && !isLeafStruct(t):
		return 0, true
	default:
		return envScalar, false
	}
}

// isLeafStruct reports whether t is a struct that one text value sets.
func isLeafStruct(t reflect.Type) bool {
	return t == addrType || t == addrPortType || t == prefixType
}

// EnvName returns the environment variable that overrides a key, for
// example HELPLINE_QUEUE_RING_TIMEOUT for "queue.ring_timeout".
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// environment is the parsed environ given to Load.
type environment map[string]string

// parseEnviron turns NAME=value entries into a map. A later entry for the
// same name wins, as in os/exec.
func parseEnviron(environ []string) environment {
	env := make(environment, len(environ))
	for _, entry := range environ {
		name, value, found := strings.Cut(entry, "=")
		if found && name != "" {
			env[name] = value
		}
	}
	return env
}

// lookup returns a variable's value and whether it is set and not empty.
func (env environment) lookup(name string) (string, bool) {
	value, ok := env[name]
	return value, ok && value != ""
}

// override is one key that a variable sets.
type override struct {
	envVar string
	key    string
	value  any
}

// envOverrides returns the overrides in env in name order, and the names
// of HELPLINE_ variables that match no key.
func envOverrides(env environment, ps *problems) ([]override, []string) {
	var overrides []override
	var unknown []string
	for _, name := range sortedNames(env) {
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		target, known := envKeys[name]
		if !known {
			unknown = append(unknown, name)
			continue
		}
		if target.kind == envFileOnly {
			ps.list = append(ps.list, Problem{
				Key:     target.key,
				Message: "cannot be set from the environment: set it in the configuration file",
				EnvVar:  name,
			})
			continue
		}
		ps.envVars[target.key] = name
		overrides = append(overrides, override{
			envVar: name,
			key:    target.key,
			value:  envValue(ps, target, env[name]),
		})
	}
	return overrides, unknown
}

// envValue converts a variable's text into what the YAML file would hold.
func envValue(ps *problems, target envKey, text string) any {
	switch target.kind {
	case envList:
		return splitList(text)
	case envListeners:
		return parseListeners(ps, target.key, text)
	default:
		return text
	}
}

// splitList splits comma-separated text and trims each entry. Empty text
// is an empty list.
func splitList(text string) []any {
	items := []any{}
	if strings.TrimSpace(text) == "" {
		return items
	}
	for item := range strings.SplitSeq(text, listSeparator) {
		items = append(items, strings.TrimSpace(item))
	}
	return items
}

// parseListeners turns "udp/127.0.0.1:5060,tcp/127.0.0.1:5060" into the
// listener mappings of the YAML file.
func parseListeners(ps *problems, key string, text string) []any {
	listeners := []any{}
	for i, item := range splitList(text) {
		entry := item.(string)
		network, address, found := strings.Cut(entry, listenSeparator)
		if !found {
			ps.add(joinKey(key, strconv.Itoa(i)), entry, "is not network/address: write an entry such as udp/127.0.0.1:5060")
			continue
		}
		listeners = append(listeners, map[string]any{"network": network, "address": address})
	}
	return listeners
}

// checkUnknownEnv judges HELPLINE_ variables that match no key. A variable
// that the configuration names as a secret source (records.key_env,
// records.postgres.dsn_env, cluster.redis.password_env, counselors[].password_env)
// is expected. A name below a list or mapping
// key, or close to a known name, is a problem, because the value would be
// lost. Any other name is a warning.
func checkUnknownEnv(names []string, cfg *Config, ps, warnings *problems) {
	secrets := secretVariables(cfg)
	known := slices.Sorted(maps.Keys(envKeys))
	for _, name := range names {
		if slices.Contains(secrets, name) {
			continue
		}
		problem := Problem{Key: keyFromEnvName(name), EnvVar: name}
		if message, ok := partialListMessage(name); ok {
			problem.Message = message
			ps.list = append(ps.list, problem)
			continue
		}
		if nearest, distance := nearestWord(name, known); distance <= maxSuggestionDistance {
			problem.Message = "is not a configuration variable: did you mean " + nearest + "?"
			ps.list = append(ps.list, problem)
			continue
		}
		problem.Message = "is not a configuration variable and is ignored"
		warnings.list = append(warnings.list, problem)
	}
}

// partialListMessage explains why a variable such as
// HELPLINE_SIP_LISTEN_0_ADDRESS cannot set part of a list or mapping.
func partialListMessage(name string) (string, bool) {
	for parentName, parent := range envKeys {
		if parent.kind == envScalar || !strings.HasPrefix(name, parentName+"_") {
			continue
		}
		if parent.kind == envFileOnly {
			return parent.key + " can be set only in the configuration file", true
		}
		return "cannot set part of a list: set the whole list with " + parentName + " as comma-separated entries", true
	}
	return "", false
}

// keyFromEnvName guesses the key a variable meant, for messages: the first
// word is the section and the rest is the key, so HELPLINE_QUEUE_RING_TIMOUT
// gives "queue.ring_timout".
func keyFromEnvName(name string) string {
	rest := strings.ToLower(strings.TrimPrefix(name, envPrefix))
	section, key, found := strings.Cut(rest, "_")
	if !found {
		return section
	}
	return section + "." + key
}

// secretVariables returns the variables that the configuration reads
// secrets from.
func secretVariables(cfg *Config) []string {
	names := []string{
		cfg.Records.KeyEnv, cfg.API.TokenEnv, cfg.Records.Postgres.DSNEnv,
		cfg.Cluster.Redis.PasswordEnv, cfg.Cluster.Redis.SentinelPasswordEnv,
	}
	for _, counselor := range cfg.Counselors {
		names = append(names, counselor.PasswordEnv)
	}
	return names
}

func sortedNames(env environment) []string {
	return slices.Sorted(maps.Keys(env))
}
