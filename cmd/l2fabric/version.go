package main

import (
	"runtime/debug"
)

// versionString says which build this is: the stamped version (or the
// module version, or "devel") and the commit it was built from, "+dirty"
// when the tree had changes: Go's VCS record, else the stamped commit.
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(version, commit, bi)
}

func formatVersion(stamped, stampedCommit string, bi *debug.BuildInfo) string {
	v := stamped
	if v == "" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	if bi == nil {
		if stampedCommit != "" {
			return v + " (commit " + stampedCommit + ")"
		}
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" && stampedCommit != "" {
		return v + " (commit " + stampedCommit + ")"
	}
	if rev == "" {
		return v + " (no commit recorded: built outside a git clone, or with -buildvcs=false)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return v + " (commit " + rev + ")"
}
