package portmap

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoadOrBuiltin covers DefaultNames's policy: the file when it has
// entries, the built-in table when it is missing or empty.
func TestLoadOrBuiltin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		builtin    bool
	}{
		{"missing", filepath.Join(dir, "nope"), true},
		{"empty", write("empty", "# nothing\n\n"), true},
		{"own", write("own", "only 400000\n"), false},
		{"partly bad", write("bad", "bad x\nonly 400000\n"), false},
	}
	for _, tt := range tests {
		n := loadOrBuiltin(tt.path)
		if got := n == BuiltinNames(); got != tt.builtin {
			t.Errorf("%s: built-in %v, want %v", tt.name, got, tt.builtin)
		}
		if !tt.builtin {
			if v, ok := n.Number("only"); !ok || v != 400000 {
				t.Errorf("%s: file's entry not read", tt.name)
			}
		}
	}
}
