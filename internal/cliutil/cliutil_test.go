package cliutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestVersionOf(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"no vcs", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"clean tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false")}, "devel-0123456789ab"},
		{"dirty tree", debug.BuildInfo{Settings: settings("vcs.modified", "true", "vcs.revision", "abc")}, "devel-abc-dirty"},
	}
	for _, tt := range tests {
		if got := versionOf(&tt.bi); got != tt.want {
			t.Errorf("%s: versionOf = %q, want %q", tt.name, got, tt.want)
		}
	}
	if Version() == "" {
		t.Error("Version() is empty")
	}
}

// testApp is a command with a flag of each kind Candidates tells apart.
func testApp(w *bytes.Buffer, args []string, values map[string][]string) *cli.App {
	return &cli.App{
		Name:   "demo",
		Writer: w,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}},
			&cli.IntFlag{Name: "port"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}},
			&cli.StringFlag{Name: FlagCompletion},
			&cli.BoolFlag{Name: FlagMan, Hidden: true},
		},
		HideHelp:             true,
		HideVersion:          true,
		EnableBashCompletion: true,
		BashComplete:         Completer(args, values),
		Action:               func(*cli.Context) error { return nil },
	}
}

func TestCandidates(t *testing.T) {
	all := "--output\n-o\n--port\n--dry-run\n-n\n--completion\n"
	values := map[string][]string{"output": {"classic", "json"}}
	tests := []struct {
		words []string
		want  string
	}{
		{nil, all},
		{[]string{"-o"}, "classic\njson\n"},
		{[]string{"--output"}, "classic\njson\n"},
		{[]string{"--completion"}, "bash\nzsh\nfish\n"},
		{[]string{"--port"}, ""},       // a free value: the shell completes files
		{[]string{"-n"}, all},          // a bool flag takes no value
		{[]string{"--port", "1"}, all}, // a value, then the flags again
		{[]string{"--nosuch"}, all},
		{[]string{"-"}, all},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		args := append(append([]string{"demo"}, tt.words...), "--"+FlagBashComplete)
		if err := testApp(&out, args, values).Run(args); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("candidates after %q = %q, want %q", tt.words, out.String(), tt.want)
		}
	}
}

func TestCompletionScript(t *testing.T) {
	app := testApp(new(bytes.Buffer), nil, nil)
	for _, tt := range []struct{ shell, want string }{
		{"bash", "complete -o default -F _demo_complete demo\n"},
		{"zsh", "compdef _demo demo\n"},
		{"fish", "complete -c demo"},
	} {
		s, err := CompletionScript(app, tt.shell)
		if err != nil || !strings.Contains(s, tt.want) {
			t.Errorf("%s: %v\n%s", tt.shell, err, s)
		}
		if tt.shell != "fish" && !strings.Contains(s, "--"+FlagBashComplete) {
			t.Errorf("%s script does not ask the command for candidates:\n%s", tt.shell, s)
		}
	}
	if _, err := CompletionScript(app, "tcsh"); !errors.Is(err, ErrUnknownShell) {
		t.Errorf("tcsh: %v, want ErrUnknownShell", err)
	}
	var w bytes.Buffer
	if err := WriteCompletion(&w, app, "bash"); err != nil || w.String() != BashScript("demo") {
		t.Errorf("WriteCompletion: %v, %q", err, w.String())
	}
}

// recorder is a TB that records instead of failing.
type recorder struct{ errors, fatals []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(f, a...))
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(f, a...))
}

func TestManPage(t *testing.T) {
	app := testApp(new(bytes.Buffer), nil, nil)
	man, err := ManPage(app)
	var w bytes.Buffer
	werr := WriteMan(&w, app)
	if !CanGenerateMan {
		if !errors.Is(err, ErrNoManGenerator) || !errors.Is(werr, ErrNoManGenerator) || man != "" || w.Len() != 0 {
			t.Errorf("without a generator: ManPage %q, %v; WriteMan %q, %v", man, err, w.String(), werr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(man, ".TH demo 8") || !strings.Contains(man, "--output") {
		t.Fatalf("not a section 8 page of demo:\n%s", man)
	}
	if werr != nil || w.String() != man {
		t.Fatalf("WriteMan: %v", werr)
	}
}

func TestCheckManPage(t *testing.T) {
	// A page as ManPage renders one; CheckManPage only compares text.
	const man = ".TH demo 8\n.SH NAME\ndemo \\- a demo\n.SH GLOBAL OPTIONS\n\\fB--output\\fP\n"
	path := filepath.Join(t.TempDir(), "demo.8")
	tests := []struct {
		name     string
		file     string // "" for no file
		update   bool
		mentions []string
		errors   int
		fatals   int
	}{
		{"current", man, false, []string{"--output"}, 0, 0},
		{"stale", man + "x", false, nil, 1, 0},
		{"stale but updated", "old", true, nil, 0, 0},
		{"missing", "", false, nil, 0, 1},
		{"missing a word", man, false, []string{"--nosuch"}, 1, 0},
	}
	for _, tt := range tests {
		os.Remove(path)
		if tt.file != "" {
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var r recorder
		CheckManPage(&r, path, man, tt.update, tt.mentions...)
		if len(r.errors) != tt.errors || len(r.fatals) != tt.fatals {
			t.Errorf("%s: errors %q, fatals %q", tt.name, r.errors, r.fatals)
		}
		if tt.update {
			if b, _ := os.ReadFile(path); string(b) != man {
				t.Errorf("%s: the file was not rewritten", tt.name)
			}
		}
	}
}

func TestDocs(t *testing.T) {
	errBad := errors.New("bad shell")
	tests := []struct {
		args    []string
		done    bool
		want    string // in the output
		wantErr error
	}{
		{[]string{"demo"}, false, "", nil},
		{[]string{"demo", "--generate-man"}, true, ".TH demo 8", nil},
		{[]string{"demo", "--completion", "zsh"}, true, "#compdef demo", nil},
		{[]string{"demo", "--completion", "tcsh"}, true, "", errBad},
	}
	const page = ".TH demo 8\n.SH NAME\ncommitted\n"
	for _, embedded := range []bool{false, true} {
		for _, tt := range tests {
			want, wantErr := tt.want, tt.wantErr
			if len(tt.args) > 1 && tt.args[1] == "--generate-man" {
				switch {
				case embedded:
					want = page
				case !CanGenerateMan:
					want, wantErr = "", ErrNoManGenerator
				}
			}
			var out bytes.Buffer
			var done bool
			var gotShell string
			app := &cli.App{Name: "demo", Writer: &out, Flags: DocFlags(), Action: func(c *cli.Context) error {
				var err error
				badShell := func(sh string) error { gotShell = sh; return errBad }
				if embedded {
					done, err = DocsWithPage(c, page, badShell)
				} else {
					done, err = Docs(c, badShell)
				}
				return err
			}}
			err := app.Run(tt.args)
			if done != tt.done || !errors.Is(err, wantErr) || !strings.Contains(out.String(), want) ||
				(embedded && want == page && out.String() != page) {
				t.Errorf("%q (embedded page %v): done %v, err %v, output %q", tt.args, embedded, done, err, out.String())
			}
			if tt.wantErr != nil && gotShell != "tcsh" {
				t.Errorf("%q: badShell got %q", tt.args, gotShell)
			}
		}
	}
	if got := ShellUsage("tcsh"); got != `invalid value "tcsh" for --completion: want bash, zsh or fish` {
		t.Errorf("ShellUsage = %q", got)
	}
}

func TestIsSet(t *testing.T) {
	names := []string{"output", "o", "port", "dry-run", "n", FlagCompletion, "nosuch"}
	for _, args := range [][]string{
		{"demo"},
		{"demo", "--output", "json"},
		{"demo", "-o", "json"},
		{"demo", "--port=0", "-n"},
		{"demo", "--completion=", "--dry-run"},
		{"demo", "--", "--port"},
	} {
		var out bytes.Buffer
		app := testApp(&out, args, nil)
		app.Action = func(c *cli.Context) error {
			for _, name := range names {
				if got, want := IsSet(c, name), c.IsSet(name); got != want {
					t.Errorf("%q: IsSet(%q) = %v, c.IsSet %v", args, name, got, want)
				}
			}
			return nil
		}
		if err := app.Run(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
	}
}
