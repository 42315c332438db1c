// Package buildinfo holds the version sente reports: in `--version`, in the nREPL
// `describe` op's `versions`, and on /health, so every surface names the same release.
package buildinfo

// Version is sente's release, bumped by hand when a release is cut.
const Version = "0.1.0"

// Major, Minor and Incremental split Version the way nREPL's describe reports versions.
const (
	Major       = 0
	Minor       = 1
	Incremental = 0
)
