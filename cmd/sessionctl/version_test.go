package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersion: `sessionctl version` prints one line on stdout and needs no
// keyset, master key or Redis.
func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sessionctl version: %v", err)
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "sessionctl ") || !strings.Contains(out, "(revision ") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout = %q, want one line \"sessionctl VERSION (revision ...)\"", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}
