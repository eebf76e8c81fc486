package testsupport

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadOnly(t *testing.T) {
	t.Parallel()
	if !Isolate(t) {
		return
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "state")
	write := func() error { return os.WriteFile(file, []byte("x"), 0o600) }
	if err := write(); err != nil {
		t.Fatalf("before ReadOnly: %v", err)
	}
	t.Run("read-only", func(t *testing.T) {
		ReadOnly(t, dir)
		if err := write(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("writing into the read-only directory as root: %v, want EROFS", err)
		}
		if _, err := os.ReadFile(file); err != nil {
			t.Errorf("reading: %v", err)
		}
	})
	if err := write(); err != nil {
		t.Errorf("after the subtest: %v, want the directory writable again", err)
	}
}
