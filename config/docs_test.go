package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helpline/ivr"
)

// readReference returns docs/configuration.md.
func readReference(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatalf("reading the configuration reference: %v", err)
	}
	return string(data)
}

func TestReferenceDocumentsEveryKey(t *testing.T) {
	doc := readReference(t)

	for name, target := range envKeys {
		if !strings.Contains(doc, "`"+target.key+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", target.key)
		}
		if target.kind != envFileOnly && !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/configuration.md does not name the variable `%s`", name)
		}
	}
}

func TestReferenceDocumentsListEntryKeys(t *testing.T) {
	doc := readReference(t)
	types := map[string]reflect.Type{
		"counselor": reflect.TypeFor[Counselor](),
		"listener":  reflect.TypeFor[Listener](),
		"queue":     reflect.TypeFor[QueueDef](),
		"node":      reflect.TypeFor[ivr.Node](),
		"collect":   reflect.TypeFor[ivr.Collect](),
		"edge":      reflect.TypeFor[ivr.Edge](),
		"web user":  reflect.TypeFor[WebUser](),
	}
	for name, entryType := range types {
		for _, key := range fieldKeys(entryType) {
			if !strings.Contains(doc, "`"+key+"`") && !strings.Contains(doc, "[]."+key+"`") {
				t.Errorf("docs/configuration.md does not document the %s key `%s`", name, key)
			}
		}
	}
}

func TestExampleSetsEveryVariableKey(t *testing.T) {
	v, err := readYAML(Example())
	if err != nil {
		t.Fatalf("reading the example: %v", err)
	}
	for _, target := range envKeys {
		if !v.InConfig(target.key) {
			t.Errorf("the example file does not set %s, so it has no default", target.key)
		}
	}
}
