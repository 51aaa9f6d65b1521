// Command sessionctl administers a sesame deployment: its keyset today, its
// sessions and users later.
//
//	SESAME_MASTER_KEY=$(head -c 32 /dev/urandom | base64) # keep it secret
//	sessionctl keys init --keyset file:/etc/sesame/keyset.json
//	sessionctl keys list --keyset redis://localhost:6379/0
//
// Every failure prints one line on stderr and exits with status 1.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}
