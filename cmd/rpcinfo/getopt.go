package main

import "strings"

// Debian's rpcinfo reads its options with GNU getopt(3) and the option string
// below. GNU getopt permutes: options and operands may be interleaved, "--"
// ends the options, a lone "-" is an operand, letters may be clustered
// ("-pt"), and an option's argument is the rest of its cluster or else the
// next word, whatever it looks like. Setting POSIXLY_CORRECT makes the first
// operand end the options. urfave/cli stops at the first operand, so the
// argument list is read here first, exactly as getopt does, and handed to
// urfave/cli afterwards in an order it understands.

// debianOptions is rpcinfo's getopt option string; 'o' (the output form) is
// this implementation's one short addition.
const debianOptions = "a:bdlmn:pstT:uo:"

// longFlags are this implementation's long options; the value tells whether
// the option takes an argument. Any other word starting with "--" is read as
// GNU getopt without long options reads it: a cluster of letters starting
// with '-', which is not an option.
var longFlags = map[string]bool{
	"output":                   true,
	"timeout":                  true,
	"port":                     true,
	"color":                    true,
	"completion":               true,
	"version":                  false,
	"help":                     false,
	"generate-man":             false,
	"generate-bash-completion": false,
	"verify":                   false,
	"nfs":                      false,
	"parallel":                 true,
	"progress":                 true,
	"audit":                    false,
	"discover":                 false,
	"probe":                    true,
	"no-forward":               false,
	"window":                   true,
	"attempts":                 true,
	"programs":                 true,
	"rate":                     true,
}

// optEvent is what getopt returns, one at a time: an option letter with its
// argument, or '?' with the diagnostic getopt printed for it.
type optEvent struct {
	c    byte   // the option letter, or '?'
	arg  string // its argument
	diag string // for '?': getopt's message, without the newline
}

// cmdline is an argument list split the way GNU getopt splits it.
type cmdline struct {
	events   []optEvent // short options and errors, in the order getopt returns them
	long     []string   // long options, each as "--name" or "--name=value"
	longErr  string     // a long option that lacks its argument, if any
	operands []string   // the operands, in order
}

// getopt splits args (args[0] is the program's name, used in diagnostics as
// glibc does) by GNU getopt's rules for optstring.
func getopt(args []string, optstring string, posixlyCorrect bool) cmdline {
	var cl cmdline
	prog := "rpcinfo"
	if len(args) > 0 {
		prog = args[0]
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			cl.operands = append(cl.operands, args[i+1:]...)
			return cl
		case len(a) < 2 || a[0] != '-':
			if posixlyCorrect {
				cl.operands = append(cl.operands, args[i:]...)
				return cl
			}
			cl.operands = append(cl.operands, a)
			continue
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if takesArg, ok := longFlags[name]; ok {
				switch {
				case !takesArg && hasValue:
					cl.long = append(cl.long, a) // urfave/cli reports the stray value
				case !takesArg || hasValue:
					cl.long = append(cl.long, a)
				case i+1 < len(args):
					i++
					cl.long = append(cl.long, "--"+name+"="+args[i])
				default:
					if cl.longErr == "" {
						cl.longErr = prog + ": option '--" + name + "' requires an argument"
					}
				}
				continue
			}
		}
		// A cluster of option letters.
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(optstring, c)
			if c == ':' || k < 0 {
				cl.events = append(cl.events, optEvent{c: '?', diag: prog + ": invalid option -- '" + string(c) + "'"})
				continue
			}
			if k+1 < len(optstring) && optstring[k+1] == ':' {
				switch {
				case j+1 < len(a):
					cl.events = append(cl.events, optEvent{c: c, arg: a[j+1:]})
				case i+1 < len(args):
					i++
					cl.events = append(cl.events, optEvent{c: c, arg: args[i]})
				default:
					cl.events = append(cl.events, optEvent{c: '?',
						diag: prog + ": option requires an argument -- '" + string(c) + "'"})
				}
				break
			}
			cl.events = append(cl.events, optEvent{c: c})
		}
	}
	return cl
}
