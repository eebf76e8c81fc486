package main

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzStrtol checks strtol against strconv for what both read, and that it
// never accepts a word with something after its digits.
func FuzzStrtol(f *testing.F) {
	for _, s := range []string{"0", "111", " -1", "+7", "99999999999999999999", "12a", "", "-", "0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := strtol(s)
		trimmed := strings.TrimLeft(s, " \t\n\v\f\r")
		want, err := strconv.ParseInt(trimmed, 10, 64)
		switch {
		case err == nil && (!ok || v != want):
			t.Errorf("strtol(%q) = %d, %v; strconv reads %d", s, v, ok, want)
		case ok && err != nil && !strings.Contains(err.Error(), "out of range"):
			t.Errorf("strtol(%q) accepted what strconv refuses: %v", s, err)
		}
	})
}

// FuzzGetopt checks that any argument list splits without panicking, and
// that the normalised list urfave/cli reads keeps every operand, in order.
func FuzzGetopt(f *testing.F) {
	for _, s := range []string{"-p 127.0.0.1", "127.0.0.1 -p", "-T tcp h 1 2", "--output json -- -1", "-a", "--x=y -:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := append([]string{"rpcinfo"}, strings.Split(s, " ")...)
		cl := getopt(args, debianOptions, false)
		norm := cl.normalize("rpcinfo")
		i := 0
		for i < len(norm) && norm[i] != "--" {
			i++
		}
		if got := norm[i+1:]; strings.Join(got, "\x00") != strings.Join(cl.operands, "\x00") {
			t.Errorf("operands %q became %q", cl.operands, got)
		}
	})
}
