package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Main is `edgegw bench`: args exclude the "bench" word; it returns the exit
// code (0 ok, 1 run failed, 2 bad usage). Errors are one line on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, worker, ratio, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if worker != "" {
		return workerMain(ctx, worker, os.Stdin, stdout)
	}
	if ratio != "" {
		if err := printRatio(stdout, ratio); err != nil {
			fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
		return 2
	}
	if cfg.Capacity.Enabled {
		steps, best, err := runCapacity(ctx, &cfg, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
			return 1
		}
		if err := writeCapacityOutputs(&cfg, steps, best); err != nil {
			fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
			return 1
		}
		return 0
	}
	res, err := runOnce(ctx, &cfg)
	if err != nil {
		fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
		return 1
	}
	// Files first: a closed stdout (| head) must not lose them.
	if err := writeRunOutputs(&cfg, res); err != nil {
		fmt.Fprintf(stderr, "edgegw bench: %s\n", oneLine(err))
		return 1
	}
	printTable(stdout, res)
	if res.ConnOK == 0 {
		fmt.Fprintf(stderr, "edgegw bench: no client connected to %s (%s)\n", cfg.Broker, failureLine(res.Failures, res.ConnFail))
		return 1
	}
	return 0
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
