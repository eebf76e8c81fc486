package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// securityDoc is the documentation of the JSON schema this package's
// results follow.
const securityDoc = "../../docs/security.md"

// docExample returns the JSON block that follows the marker
// "<!-- example: NAME -->" in the document.
func docExample(t *testing.T, doc, name string) []byte {
	t.Helper()
	marker := "<!-- example: " + name + " -->"
	_, after, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("%s has no %q", securityDoc, marker)
	}
	_, after, ok = strings.Cut(after, "```json\n")
	body, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatalf("%s: no JSON block after %q", securityDoc, marker)
	}
	return []byte(body)
}

// jsonNames returns the JSON names of every field of v's type and of the
// struct types it holds.
func jsonNames(typ reflect.Type, seen map[reflect.Type]bool, out map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] {
		return
	}
	seen[typ] = true
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
		jsonNames(f.Type, seen, out)
	}
}

// TestSchemaDocumented keeps docs/security.md and the result types together:
// its examples decode into them with no field left over, and every JSON
// field of theirs is named in it.
func TestSchemaDocumented(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, tt := range []struct {
		name string
		into any
	}{
		{"audit.Report", &Report{}},
		{"audit.Discovery", &Discovery{}},
	} {
		d := json.NewDecoder(bytes.NewReader(docExample(t, doc, tt.name)))
		d.DisallowUnknownFields()
		if err := d.Decode(tt.into); err != nil {
			t.Errorf("the example of %s: %v", tt.name, err)
		}
		names := map[string]bool{}
		jsonNames(reflect.TypeOf(tt.into), map[reflect.Type]bool{}, names)
		for n := range names {
			if !strings.Contains(doc, "`"+n+"`") {
				t.Errorf("%s: field %q of %s is not documented", securityDoc, n, tt.name)
			}
		}
	}
}
