package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// exampleSource names the embedded example in messages.
const exampleSource = "the embedded example"

// Keys that the example file does not provide defaults for.
const (
	// counselorsKey has no default, so that a real configuration never
	// inherits the demo accounts and their published passwords.
	counselorsKey = "counselors"
	// nodesKey defaults to the example menu only as a whole: a file that
	// lists nodes replaces the menu instead of merging into it.
	nodesKey = "ivr.nodes"
	// allowDemoKeyKey defaults to false, so that a file that leaves it out
	// never stores caller numbers under the public demo key.
	allowDemoKeyKey = "records.allow_demo_key"
)

// Load reads the configuration at path, or the embedded example when path
// is empty, applies the HELPLINE_<SECTION>_<KEY> variables in environ (in
// os.Environ form) and validates the result in one step.
//
// A key that the file leaves out takes its value from the example, except
// counselors, which must be listed, web.users, which is empty, and
// records.allow_demo_key, api.allow_demo_token and web.allow_demo_users,
// which are false. A file that lists ivr.nodes
// replaces the whole example menu.
//
// A configuration that cannot run gives an error wrapping ErrInvalid: a
// *ValidationError listing every problem, or a YAML syntax error. A file
// that cannot be read gives the file system error.
func Load(path string, environ []string, opts ...LoadOption) (*Config, error) {
	var options loadOptions
	for _, opt := range opts {
		opt(&options)
	}

	source, data, err := readSource(path)
	if err != nil {
		return nil, err
	}
	cfg, err := loadData(source, data, environ, options)
	if err != nil {
		return nil, err
	}
	cfg.Path = path
	return cfg, nil
}

// loadData does the work of Load on YAML text that source names in
// messages.
func loadData(source string, data []byte, environ []string, options loadOptions) (*Config, error) {
	v, err := readYAML(data)
	if err != nil {
		return nil, fmt.Errorf("parsing %s as YAML: %w: %w", source, ErrInvalid, err)
	}

	ps := &problems{envVars: make(map[string]string)}
	warnings := &problems{}
	checkSchema(ps, "", v.AllSettings(), reflect.TypeFor[Config]())

	if err := setDefaults(v); err != nil {
		return nil, fmt.Errorf("reading defaults from the embedded example: %w", err)
	}

	env := parseEnviron(environ)
	overrides, unknownEnv := envOverrides(env, ps)
	for _, o := range overrides {
		checkSchema(ps, o.key, o.value, envKeys[o.envVar].fieldType)
		v.Set(o.key, o.value)
	}

	cfg := &Config{}
	decodeSettings(v, cfg, ps)
	decodeProblems := len(ps.list)

	checkUnknownEnv(unknownEnv, cfg, ps, warnings)
	validate(cfg, env, options, ps, warnings)
	ps.dropRepeatsAfter(decodeProblems)

	if len(ps.list) > 0 {
		return nil, &ValidationError{Source: source, Problems: sortBySection(ps.list)}
	}
	cfg.Warnings = sortBySection(warnings.list)
	return cfg, nil
}

// readSource returns a name for messages and the YAML text.
func readSource(path string) (string, []byte, error) {
	if path == "" {
		return exampleSource, Example(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("reading configuration file (check the --config path): %w", err)
	}
	return path, data, nil
}

// readYAML returns a viper instance holding the YAML text. Viper lowers
// the case of every mapping key, node names included.
func readYAML(data []byte) (*viper.Viper, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return v, nil
}

// setDefaults gives every key that the file leaves out the example's value,
// with the exceptions described at counselorsKey, nodesKey, allowDemoKeyKey,
// allowDemoTokenKey, webUsersKey and allowDemoUsersKey.
func setDefaults(v *viper.Viper) error {
	example, err := readYAML(exampleYAML)
	if err != nil {
		return err
	}
	menuGiven := v.IsSet(nodesKey)

	for _, key := range example.AllKeys() {
		if key == counselorsKey || key == webUsersKey || strings.HasPrefix(key, nodesKey+".") {
			continue
		}
		v.SetDefault(key, example.Get(key))
	}
	if !menuGiven {
		v.SetDefault(nodesKey, example.Get(nodesKey))
	}
	v.SetDefault(allowDemoKeyKey, false)
	v.SetDefault(allowDemoTokenKey, false)
	v.SetDefault(allowDemoUsersKey, false)
	return nil
}

// decodeSettings fills cfg from viper. A field that fails to decode was
// already reported by the schema walk, so only failures under keys without
// a problem, below or above them, are added.
func decodeSettings(v *viper.Viper, cfg *Config, ps *problems) {
	hooks := mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		stringToAddrHook,
		stringToAddrPortHook,
		stringToPrefixHook,
	)
	err := v.Unmarshal(cfg, viper.DecodeHook(hooks))
	for _, failure := range decodeFailures("", err) {
		if !ps.hasKey(failure.key) && !ps.hasKeyOrParent(failure.key) {
			ps.add(failure.key, nil, "cannot be decoded: %v", failure.err)
		}
	}
}

// decodeFailure is one field that mapstructure could not fill.
type decodeFailure struct {
	key string
	err error
}

// decodeFailures returns the innermost failures in err, a tree of joined
// mapstructure.DecodeError values, each under its dotted key.
func decodeFailures(key string, err error) []decodeFailure {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var failures []decodeFailure
		for _, inner := range joined.Unwrap() {
			failures = append(failures, decodeFailures(key, inner)...)
		}
		return failures
	}
	var named *mapstructure.DecodeError
	if errors.As(err, &named) {
		return decodeFailures(decodeErrorKey(named.Name()), named.Unwrap())
	}
	return []decodeFailure{{key: key, err: err}}
}

// decodeIndex matches the [index] and [key] path elements of mapstructure.
var decodeIndex = regexp.MustCompile(`\[([^\]]*)\]`)

// decodeErrorKey turns mapstructure's "counselors[0].id" into the dotted
// key "counselors.0.id".
func decodeErrorKey(name string) string {
	return decodeIndex.ReplaceAllString(name, ".$1")
}

// stringToAddrHook decodes text into a netip.Addr. Empty text gives the
// zero Addr, which means "not set".
func stringToAddrHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != addrType {
		return data, nil
	}
	return parseOptionalAddr(data.(string))
}

func stringToAddrPortHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != addrPortType {
		return data, nil
	}
	return netip.ParseAddrPort(strings.TrimSpace(data.(string)))
}

func stringToPrefixHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != prefixType {
		return data, nil
	}
	return parsePrefix(data.(string))
}

// dropRepeatsAfter removes problems from index first on whose key, or a
// parent of it, already has a problem before first. A value that failed to
// decode would otherwise also fail the range checks as a zero value.
func (ps *problems) dropRepeatsAfter(first int) {
	earlier := &problems{list: slices.Clone(ps.list[:first])}
	remaining := slices.Clone(earlier.list)
	for _, p := range ps.list[first:] {
		if !earlier.hasKeyOrParent(p.Key) {
			remaining = append(remaining, p)
		}
	}
	ps.list = remaining
}

// hasKeyOrParent reports whether a problem is about key or a key above it.
func (ps *problems) hasKeyOrParent(key string) bool {
	for _, p := range ps.list {
		if p.Key == key || strings.HasPrefix(key, p.Key+".") {
			return true
		}
	}
	return false
}

// sortBySection orders problems by the section order of Config, keeping
// the order within a section.
func sortBySection(list []Problem) []Problem {
	sections := fieldKeys(reflect.TypeFor[Config]())
	rank := func(p Problem) int {
		section, _, _ := strings.Cut(p.Key, ".")
		if i := slices.Index(sections, section); i >= 0 {
			return i
		}
		return len(sections)
	}
	slices.SortStableFunc(list, func(a, b Problem) int {
		return rank(a) - rank(b)
	})
	return list
}

// LoadOption changes what Load requires of a configuration.
type LoadOption func(*loadOptions)

type loadOptions struct {
	// passwordsOptional accepts counselors whose password_env is unset.
	passwordsOptional bool
}

// ForRecordsOnly makes Load accept counselors whose password_env variable
// is unset, leaving their Password empty. Commands that only read the call
// records, such as `helpline records export`, use it, so that the
// follow-up team needs no counselor's password.
func ForRecordsOnly() LoadOption {
	return func(o *loadOptions) { o.passwordsOptional = true }
}
