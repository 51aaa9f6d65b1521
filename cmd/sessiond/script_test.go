package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/*.txtar, sessiond's command line as terminal
// sessions: "exec sessiond" runs this test binary as sessiond (TestMain).
// $MASTER_KEY is a valid master key, which no output may show.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("MASTER_KEY", testMasterKey)
			return nil
		},
	})
}
