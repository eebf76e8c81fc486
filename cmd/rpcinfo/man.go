package main

import _ "embed"

// manPage is the committed man page, rpcinfo.8, which --generate-man prints:
// the binary need not carry urfave/cli's man page generator (see
// cliutil.DocsWithPage). TestManPage keeps it equal to what the command's
// definition renders.
//
//go:embed rpcinfo.8
var manPage string
