// Package fleet is a runnable example: three sessiond nodes behind nginx
// (plain round robin) sharing one Redis. Start it with ./run.sh; its
// end-to-end test runs with `go test -tags fleet ./examples/fleet`.
package fleet
