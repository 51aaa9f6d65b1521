// Package version reports what a sesame binary was built from: the module
// version and the VCS revision, as the Go toolchain records them in the
// binary (runtime/debug.ReadBuildInfo).
//
// What is recorded depends on how the binary was built:
//
//   - go install github.com/sesame-go/sesame/cmd/sessiond@v1.2.3: the
//     version v1.2.3; no revision (a module download has no VCS metadata).
//   - go install ...@latest or @<commit> without a tag: a pseudo-version
//     such as v0.0.0-20261204171414-75dfd9b0c1e2, whose last part is the
//     revision's first 12 hex digits; [Read] takes the revision from it.
//   - go build in a git checkout: a version derived from the nearest tag
//     and the full revision, commit time and a "modified" flag for
//     uncommitted changes (unless built with -buildvcs=false).
//   - go run and go test: "(devel)" and usually no revision.
package version

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
)

// Info is what the build recorded. Empty fields were not recorded.
type Info struct {
	Version  string // module version: v1.2.3, a pseudo-version, or (devel)
	Revision string // VCS revision (full hash, or 12 digits from a pseudo-version)
	Time     string // commit time, RFC 3339, when built from a checkout
	Modified bool   // built from a checkout with uncommitted changes
	Go       string // toolchain version, e.g. go1.26.8
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(bi, ok)
}

// pseudoRev matches the revision at the end of a pseudo-version
// (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef, or ...-0.yyyymmddhhmmss-... after a
// pre-release), with an optional +incompatible or +dirty suffix.
var pseudoRev = regexp.MustCompile(`[-.]\d{14}-([0-9a-f]{12})(\+[a-z]+)?$`)

func fromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	if !ok || bi == nil {
		return Info{Version: "(unknown)"}
	}
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	if in.Revision == "" {
		if m := pseudoRev.FindStringSubmatch(in.Version); m != nil {
			in.Revision = m[1]
		}
	}
	return in
}

// String formats in as one line for program, for example
//
//	sessiond v1.2.3 (revision 75dfd9b0c1e2…, 2026-12-04T17:14:14Z, modified) go1.26.8
func (in Info) String(program string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", program, in.Version)
	rev := in.Revision
	if rev == "" {
		rev = "unknown"
	}
	details := []string{"revision " + rev}
	if in.Time != "" {
		details = append(details, in.Time)
	}
	if in.Modified {
		details = append(details, "modified")
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
	if in.Go != "" {
		fmt.Fprintf(&b, " %s", in.Go)
	}
	return b.String()
}

// String is Read().String(program): the line `sessiond --version` and
// `sessionctl version` print.
func String(program string) string { return Read().String(program) }
