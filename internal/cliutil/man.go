package cliutil

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// ManSection is the manual section of the project's commands: system
// administration, with rpcinfo(8) and rpcbind(8).
const ManSection = 8

// ErrNoManGenerator is returned by ManPage in a binary built with the tag
// urfave_cli_no_docs, which leaves urfave/cli's man page generator (and the
// markdown packages it needs) out of the binary. A command that still wants
// --generate-man in such a build answers it with its committed page:
// see DocsWithPage.
var ErrNoManGenerator = errors.New("cliutil: no man page generator in this build (built with -tags " + noDocsTag + ")")

// noDocsTag is urfave/cli v2's build tag that drops its ToMan and
// ToMarkdown, and with them github.com/cpuguy83/go-md2man and
// github.com/russross/blackfriday, whose package initialisation costs about
// 0.4 ms at every start of every command.
const noDocsTag = "urfave_cli_no_docs"

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
