package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
	"github.com/portmap-toolkit/pmap/internal/render"
)

// complete prints the candidates for the word after words (the command
// line so far, as getopt read it in cl): the values of the option before
// it, or else the options and, once a host or a mode that takes a program is
// there, the program names.
func (r *runner) complete(c *cli.Context, cl cmdline, words []string) {
	last := ""
	if len(words) > 1 {
		last = words[len(words)-1]
	}
	var opt string
	switch {
	case strings.HasPrefix(last, "--"):
		opt = last[2:]
	case strings.HasPrefix(last, "-") && len(last) > 1:
		opt = last[len(last)-1:] // the last letter of a cluster takes the next word
	}
	var out []string
	switch opt {
	case "T":
		for _, n := range netconfigs {
			out = append(out, n.netid)
		}
	case "o", flagOutput:
		out = render.Formats()
	case flagColor, flagProgress:
		out = []string{colorAuto, colorAlways, colorNever}
	case flagCompletion:
		out = cliutil.Shells
	case flagProbe:
		out = probeNames()
	default:
		out = cliutil.FlagWords(c.App)
		if len(cl.operands) > 0 || cl.hasProgMode() {
			for _, e := range r.names.Entries() {
				out = append(out, e.Name)
			}
		}
	}
	fmt.Fprintln(r.stdout, strings.Join(out, "\n"))
}

// hasProgMode reports whether a mode whose first operand is a program (-a,
// -b, -d) was given.
func (cl cmdline) hasProgMode() bool {
	for _, ev := range cl.events {
		switch ev.c {
		case 'a', 'b', 'd':
			return true
		}
	}
	return false
}
