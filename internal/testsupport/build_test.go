package testsupport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildGoAsUser(t *testing.T) {
	Require(t, "go")
	const pkg = "./internal/testsupport/testdata/whoami"
	bin := filepath.Join(BuildGo(t, pkg), "whoami")
	before, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Under Main the second build is the first one's binary.
	if again := filepath.Join(BuildGo(t, pkg), "whoami"); again != bin {
		t.Errorf("second BuildGo put whoami at %s, first at %s", again, bin)
	} else if after, err := os.Stat(again); err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second BuildGo rebuilt whoami (%v)", err)
	}

	for _, id := range []uint32{0, Nobody, 4242} {
		t.Run(fmt.Sprint(id), func(t *testing.T) {
			out, err := AsUser(exec.Command(bin), id, id).CombinedOutput()
			want := fmt.Sprintf("uid=%d gid=%d", id, id)
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("whoami as %d: %q (%v), want %q", id, out, err, want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	Require(t, "go", "cc")
	tests := []struct {
		name  string
		build func(testing.TB)
		want  string
	}{
		{"no such package", func(tb testing.TB) { BuildGo(tb, "./internal/testsupport/testdata/nonexistent") }, "building ./internal/testsupport/testdata/nonexistent"},
		{"same name twice", func(tb testing.TB) {
			BuildGo(tb, "./internal/testsupport/testdata/whoami", "./internal/testsupport/testdata/whoami/../whoami")
		}, "would also be built from"},
		{"C syntax error", func(tb testing.TB) { BuildC(tb, "broken", "int main(void) { return }\n") }, "compiling broken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, msg := stops(t, tc.build)
			if kind != "fatal" || !strings.Contains(msg, tc.want) {
				t.Errorf("stopped with %q %q, want a failure with %q", kind, msg, tc.want)
			}
		})
	}
}
