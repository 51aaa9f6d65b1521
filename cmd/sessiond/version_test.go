package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersion: --version prints one line on stdout and exits, whatever the
// rest of the configuration says; SESAME_VERSION is not its twin.
func TestVersion(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"SESAME_LOG_FORMAT": "nonsense", "SESAME_VERSION": "true"}[k]
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"--version"}, env, &stdout, &stderr); err != nil {
		t.Fatalf("run --version: %v", err)
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "sessiond ") || !strings.Contains(out, "(revision ") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout = %q, want one line \"sessiond VERSION (revision ...)\"", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}

	c, err := parseConfig(nil, func(k string) string {
		return map[string]string{"SESAME_VERSION": "true"}[k]
	}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.version {
		t.Error("SESAME_VERSION=true turned on --version")
	}
}
