package main

import (
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/portmap-toolkit/pmap/internal/cliutil"
)

// options is what a run reads of its command line, by flag name (one of
// flags()): urfave/cli's reading of it (cliOptions) or, for a command line
// of one-letter options only, getopt's (shortOptions).
type options interface {
	Bool(name string) bool
	String(name string) string
	Int(name string) int
	Duration(name string) time.Duration
	Float64(name string) float64
	// IsSet reports whether the command line gave the flag.
	IsSet(name string) bool
	// Operands returns the operands, in order.
	Operands() []string
}

// cliOptions are the options as urfave/cli read them.
type cliOptions struct{ *cli.Context }

// IsSet reports whether the command line gave the flag called name, as
// c.IsSet does, at a fraction of its cost (cliutil.IsSet).
func (o cliOptions) IsSet(name string) bool { return cliutil.IsSet(o.Context, name) }

// Operands returns the operands.
func (o cliOptions) Operands() []string { return o.Args().Slice() }

// shortOptions are the options of a command line that has only rpcinfo's
// one-letter options (and -o), as getopt read them, over the defaults of
// flags(): what urfave/cli reads from the same command line, in 4 µs
// instead of the 0.2 ms of urfave/cli's run (it makes a flag set of every
// flag, then asks IsSet of each name of each flag, which looks the name up
// among all the others' through a regular expression) and of its code's
// page faults, which a fresh process pays in full. Every
// one-letter option is a bool or a string flag (TestShortOptions checks
// it), so the other kinds only ever give their defaults.
type shortOptions struct {
	flags    []cli.Flag        // flags()
	given    map[string]string // the flags given, by their first name, with their last argument
	operands []string
}

// shortOptions returns cl's options; cl has no long option.
func (cl cmdline) shortOptions() shortOptions {
	o := shortOptions{flags: flags(), given: make(map[string]string), operands: cl.operands}
	for _, ev := range cl.events {
		if f, first := o.flag(string(ev.c)); f != nil {
			o.given[first] = ev.arg
		}
	}
	return o
}

// flagName returns f's name and aliases without urfave/cli's f.Names(),
// which runs each through a regular expression; f is one of flags().
func flagName(f cli.Flag) (name string, aliases []string) {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return f.Name, f.Aliases
	case *cli.StringFlag:
		return f.Name, f.Aliases
	case *cli.IntFlag:
		return f.Name, f.Aliases
	case *cli.DurationFlag:
		return f.Name, f.Aliases
	case *cli.Float64Flag:
		return f.Name, f.Aliases
	}
	names := f.Names()
	return names[0], names[1:]
}

// flag returns the flag one of whose names is name, and its first name.
func (o shortOptions) flag(name string) (cli.Flag, string) {
	for _, f := range o.flags {
		if first, aliases := flagName(f); first == name || slices.Contains(aliases, name) {
			return f, first
		}
	}
	return nil, ""
}

// value returns the value of the flag called name as a string, as
// urfave/cli's flag set holds it: "true" for a bool flag given, the last
// argument of a string flag given, or the default.
func (o shortOptions) value(name string) string {
	f, first := o.flag(name)
	if f == nil {
		return ""
	}
	if v, ok := o.given[first]; ok {
		if _, isBool := f.(*cli.BoolFlag); isBool {
			return "true"
		}
		return v
	}
	switch f := f.(type) {
	case *cli.BoolFlag:
		return strconv.FormatBool(f.Value)
	case *cli.StringFlag:
		return f.Value
	}
	return ""
}

// defaultOf returns the flag called name, whose value is its default.
func (o shortOptions) defaultOf(name string) cli.Flag {
	f, _ := o.flag(name)
	return f
}

// Bool returns the value of a bool flag, and for a string flag whether its
// value reads as true, as urfave/cli does.
func (o shortOptions) Bool(name string) bool {
	b, err := strconv.ParseBool(o.value(name))
	return err == nil && b
}

// String returns the value of a string flag.
func (o shortOptions) String(name string) string { return o.value(name) }

// Int returns the default of an int flag.
func (o shortOptions) Int(name string) int {
	if f, ok := o.defaultOf(name).(*cli.IntFlag); ok {
		return f.Value
	}
	return 0
}

// Duration returns the default of a duration flag.
func (o shortOptions) Duration(name string) time.Duration {
	if f, ok := o.defaultOf(name).(*cli.DurationFlag); ok {
		return f.Value
	}
	return 0
}

// Float64 returns the default of a float flag.
func (o shortOptions) Float64(name string) float64 {
	if f, ok := o.defaultOf(name).(*cli.Float64Flag); ok {
		return f.Value
	}
	return 0
}

// IsSet reports whether the command line gave the flag called name.
func (o shortOptions) IsSet(name string) bool {
	f, first := o.flag(name)
	if f == nil {
		return false
	}
	_, ok := o.given[first]
	return ok
}

// Operands returns the operands.
func (o shortOptions) Operands() []string { return o.operands }
