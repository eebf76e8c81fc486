//go:build !urfave_cli_no_docs

package cliutil

import "github.com/urfave/cli/v2"

// CanGenerateMan reports whether ManPage can render a page: false in a
// binary built with the tag urfave_cli_no_docs, where ManPage returns
// ErrNoManGenerator. Tests that compare a committed page with the generated
// one skip in such a build.
const CanGenerateMan = true

// ManPage renders app's man page (roff) in ManSection from its definition:
// name, usage, description, flags. It first completes app as running it
// would (urfave/cli's Setup, which adds the help and version flags unless
// hidden), so that a test rendering a fresh definition gets the page the
// command prints.
func ManPage(app *cli.App) (string, error) {
	app.Setup()
	return app.ToManWithSection(ManSection)
}
