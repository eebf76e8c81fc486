package cliutil

import "runtime/debug"

// revisionLen is how much of a VCS revision a development version shows:
// twelve hex digits, as `go version -m` and Go's pseudo-versions do, unique
// in any repository of a sane size.
const revisionLen = 12

// Version returns the version of the running binary: the module version it
// was built from (a release, "v1.2.3"), or for a build from a work tree
// "devel-" and the first twelve digits of the VCS revision, with "-dirty"
// when the tree had changes; "devel" without VCS information (go run, go
// test) and "unknown" without build information at all.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return versionOf(bi)
}

// versionOf is Version for given build information.
func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > revisionLen {
		rev = rev[:revisionLen]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
