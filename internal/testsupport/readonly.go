package testsupport

import (
	"os"
	"syscall"
	"testing"
)

// ReadOnly makes dir read-only for the rest of the test, root included: tests
// run as root, which ignores file modes, so a read-only directory has to be a
// read-only bind mount of itself. The mount is in the test namespace's
// private mount table and is undone when the test ends. ReadOnly must run
// inside Isolate.
func ReadOnly(t testing.TB, dir string) {
	t.Helper()
	mustBeInside(t, "ReadOnly")
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("testsupport: bind-mounting %s: %v", dir, os.NewSyscallError("mount", err))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("testsupport: unmounting %s: %v", dir, os.NewSyscallError("umount", err))
		}
	})
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("testsupport: making %s read-only: %v", dir, os.NewSyscallError("mount", err))
	}
}
