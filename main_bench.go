package main

import (
	"io"

	"edgegw/bench"
)

// runBench is `edgegw bench`: the load generator, which lives in package bench.
func runBench(args []string, stdout, stderr io.Writer) int {
	return bench.Main(args, stdout, stderr)
}
