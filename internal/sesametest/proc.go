package sesametest

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the program name, which the test cannot run
// without. When it is not on PATH, the test fails under CI=true (CI must
// install it: install says how) and is skipped elsewhere.
func Need(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not on PATH; CI must install it: %s", name, install)
		}
		t.Skipf("%s is not on PATH; to run this test: %s", name, install)
	}
	return p
}
