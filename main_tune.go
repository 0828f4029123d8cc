package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"edgegw/gateway/config"
	"edgegw/tune"
)

// runTune is `edgegw tune [-config FILE] [--json] [--apply]`: the tune
// report (cgroup, runtime sizing, open files, memory budget, sysctls with
// current and recommended values, NIC rings, kernel signals) for the
// configuration's targets. Without --apply it changes nothing; with it,
// it raises what tune.apply = "raise" would at start-up, logging each
// change to stderr.
func runTune(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegw tune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "configuration `FILE` (TOML); default: the embedded config.toml")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	apply := fs.Bool("apply", false, "raise the open-file limit, sysctls and NIC rings below their recommendation (root)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "usage: edgegw tune [-config FILE] [--json] [--apply]")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "edgegw tune: %v (see edgegw help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgegw tune: unexpected argument %q (see edgegw help)\n", fs.Arg(0))
		return 2
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 2
	}
	o := tuneOptions(cfg)
	var rep tune.Report
	if *apply {
		o.Config.Apply = tune.ApplyRaise
		log := slog.New(slog.NewTextHandler(stderr, nil))
		rep = tune.Apply(o, func(msg string, a ...any) { log.Info(msg, a...) })
	} else {
		rep = tune.Inspect(o)
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "edgegw tune: %v\n", err)
			return 1
		}
		return 0
	}
	rep.WriteText(stdout)
	return 0
}

// tuneOptions are the tune options for cfg: its [tune] section, its
// connection target and its listeners.
func tuneOptions(cfg config.Config) tune.Options {
	var ls []string
	for _, a := range []string{cfg.Listeners.TCP, cfg.Listeners.WS, cfg.Listeners.TLS} {
		if a != "" {
			ls = append(ls, a)
		}
	}
	return tune.Options{
		Config:    cfg.Tune,
		Targets:   tune.Targets{MaxConnections: int64(cfg.Limits.MaxConnections)},
		Listeners: ls,
	}
}

// applyTune fits the process to its machine before the gateway starts
// (tune.Apply: open-file limit, GOMEMLIMIT, and with tune.apply = "raise"
// the sysctls and NIC rings) and logs what bounds it: CPUs, memory, open
// files, the memory budget, then each warning and each thing that could
// not be read. Nothing here stops the start.
func applyTune(log *slog.Logger, cfg config.Config) {
	rep := tune.Apply(tuneOptions(cfg), func(msg string, a ...any) { log.Info(msg, a...) })
	rt := rep.Runtime
	log.Info("cpu", "gomaxprocs", rt.GOMAXPROCS, "num_cpu", rt.NumCPU, "source", rt.GOMAXPROCSSource, "cgroup_quota", rep.Cgroup.CPUQuota)
	log.Info("memory", "gomemlimit", rt.GOMEMLIMIT, "gomemlimit_source", rt.GOMEMLIMITSource,
		"limit", rep.Budget.Limit, "limit_source", rep.Budget.Source, "cgroup", rep.Cgroup.MemoryVersion)
	f := rep.Files
	log.Info("open files", "soft_before", f.SoftBefore, "soft", f.Soft, "hard", f.Hard, "max_connections_about", f.Cap)
	log.Info("tune", rep.Summary()...)
	for _, w := range rep.Warnings {
		log.Warn(w)
	}
	for _, p := range rep.Problems {
		log.Info("tune: could not read", "what", p)
	}
	if rep.Apply == tune.ApplyOff {
		for _, s := range rep.Sysctls {
			if s.Status == tune.StatusLow {
				log.Info("tune.apply = off: to raise it, run", "command", s.Command())
			}
		}
	}
}
