package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "sessiond (unknown) (revision unknown)"},
		{"tagged release from the module proxy",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			true, "sessiond v1.2.3 (revision unknown) go1.26.8"},
		{"untagged commit from the module proxy",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261204171414-75dfd9b0c1e2"}},
			true, "sessiond v0.0.0-20261204171414-75dfd9b0c1e2 (revision 75dfd9b0c1e2) go1.26.8"},
		{"pseudo-version after a pre-release",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-rc.1.0.20261204171414-75dfd9b0c1e2"}},
			true, "sessiond v1.2.4-rc.1.0.20261204171414-75dfd9b0c1e2 (revision 75dfd9b0c1e2)"},
		{"checkout with changes",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261204171414-75dfd9b0c1e2+dirty"},
				Settings: []debug.BuildSetting{
					{Key: "vcs", Value: "git"},
					{Key: "vcs.revision", Value: "75dfd9b0c1e2aa86e4ddc3ad0a0d1b7a3c9f0e11"},
					{Key: "vcs.time", Value: "2026-12-04T17:14:14Z"},
					{Key: "vcs.modified", Value: "true"},
				}},
			true, "sessiond v0.0.0-20261204171414-75dfd9b0c1e2+dirty (revision 75dfd9b0c1e2aa86e4ddc3ad0a0d1b7a3c9f0e11, 2026-12-04T17:14:14Z, modified) go1.26.8"},
		{"go run",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			true, "sessiond (devel) (revision unknown) go1.26.8"},
		{"empty main version",
			&debug.BuildInfo{}, true, "sessiond (devel) (revision unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuildInfo(tc.bi, tc.ok).String("sessiond"); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestVersionString reads this test binary's own build information, which always
// exists for a binary built by the go command.
func TestVersionString(t *testing.T) {
	got := String("sessionctl")
	if !strings.HasPrefix(got, "sessionctl ") || !strings.Contains(got, "(revision ") {
		t.Errorf("String = %q", got)
	}
	if in := Read(); in.Version == "" || in.Go == "" {
		t.Errorf("Read = %+v: version and Go version must be set", in)
	}
}
