package cliutil

import (
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// ManSection is the manual section of the project's commands: system
// administration, with rpcinfo(8) and rpcbind(8).
const ManSection = 8

// ManPage renders app's man page (roff) in ManSection from its definition:
// name, usage, description, flags.
func ManPage(app *cli.App) (string, error) {
	return app.ToManWithSection(ManSection)
}

// WriteMan writes app's man page to w.
func WriteMan(w io.Writer, app *cli.App) error {
	man, err := ManPage(app)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, man)
	return err
}

// TB is the part of testing.TB that CheckManPage uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// CheckManPage is the test that keeps a committed man page current: it
// fails t when the file at path differs from generated, the page the
// command's definition renders now. With update set (a test's -update flag)
// it first rewrites the file. mentions are words the page must contain, to
// catch a definition that lost a flag or its description.
func CheckManPage(t TB, path, generated string, update bool, mentions ...string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(generated), 0o644); err != nil {
			t.Fatalf("cliutil: %v", err)
			return
		}
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cliutil: %v", err)
		return
	}
	if string(committed) != generated {
		t.Errorf("%s is out of date: run go generate in its package (or go test -run TestManPage -update)", path)
	}
	for _, want := range mentions {
		if !strings.Contains(generated, want) {
			t.Errorf("the man page %s does not mention %s", path, want)
		}
	}
}
