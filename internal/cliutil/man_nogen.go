//go:build urfave_cli_no_docs

package cliutil

import "github.com/urfave/cli/v2"

// CanGenerateMan reports whether ManPage can render a page: false in this
// build (tag urfave_cli_no_docs), where urfave/cli has no ToMan.
const CanGenerateMan = false

// ManPage would render app's man page; this build has no generator, so it
// returns ErrNoManGenerator.
func ManPage(app *cli.App) (string, error) {
	return "", ErrNoManGenerator
}
