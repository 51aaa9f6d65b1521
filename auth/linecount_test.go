package auth_test

import (
	"os"
	"strings"
	"testing"
)

// TestExampleLineCounts holds the adoption promise: the wiring of a single
// node (ExampleNewLocal) is at most 10 lines, that of a fleet node on Redis
// (ExampleOpen) at most 15, counted between the "sesame:begin" and
// "sesame:end" markers, blank lines and comments left out.
func TestExampleLineCounts(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]int{"ExampleNewLocal": 10, "ExampleOpen": 15}
	counted := map[string]int{}
	fn, in := "", false
	for _, line := range strings.Split(string(src), "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "func "):
			fn = strings.TrimPrefix(strings.Fields(line)[1], "")
			fn = fn[:strings.IndexByte(fn, '(')]
		case l == "// sesame:begin":
			in = true
			counted[fn] = 0
		case l == "// sesame:end":
			in = false
		case in && l != "" && !strings.HasPrefix(l, "//"):
			counted[fn]++
		}
	}
	for name, limit := range limits {
		n, ok := counted[name]
		switch {
		case !ok || n == 0:
			t.Errorf("%s: no marked wiring found", name)
		case n > limit:
			t.Errorf("%s: %d lines of wiring, want at most %d", name, n, limit)
		default:
			t.Logf("%s: %d lines of wiring (limit %d)", name, n, limit)
		}
	}
}
