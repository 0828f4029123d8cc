// Command edgegw is a single-process MQTT edge gateway.
//
//	edgegw                          run on the embedded default configuration
//	edgegw run [-config FILE]       run on FILE (keys it leaves out keep their defaults)
//	edgegw version                  print the version
//	edgegw bench [flags]            the load generator (see `edgegw bench -h`)
//	edgegw tune [--json] [--apply]  the tune report: cgroup, limits, sysctls, rings, kernel signals
//
// Exit status: 0 after a clean drain, 1 when the gateway cannot start (a listener
// cannot bind) or the drain runs past drain.timeout, 2 for bad flags or configuration.
//
// main only wires things: flags, configuration, logging, signals. The gateway itself is
// package gateway; the load generator is package bench.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"edgegw/gateway"
	"edgegw/gateway/config"
)

// defaultConfig is the repository's config.toml: the documented defaults, equal to
// config.Default() (main_test.go checks both).
//
//go:embed config.toml
var defaultConfig []byte

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
// When empty, the VCS revision recorded by the go command is used, else "dev".
var version string

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr, nil))
}

const usage = `usage:
  edgegw                      run on the embedded default configuration
  edgegw run [-config FILE]   run on FILE (missing keys keep their defaults)
  edgegw version              print the version
  edgegw bench [flags]        run the load generator (edgegw bench -h)
  edgegw tune [-config FILE] [--json] [--apply]
                              print the tune report (--apply: raise what it may)
  edgegw passwd [-disable|-enable] FILE USER
                              add or update USER in a password file (password on stdin)
`

// realMain runs the command line args and returns the exit status. signals, when
// non-nil, replaces the process's SIGINT/SIGTERM notifications (for tests).
func realMain(args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(args, stderr, signals)
	case "version":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "edgegw version: unexpected argument %q\n", args[0])
			return 2
		}
		fmt.Fprintf(stdout, "edgegw %s %s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "bench":
		return runBench(args, stdout, stderr)
	case "tune":
		return runTune(args, stdout, stderr) // main_tune.go
	case "passwd":
		return runPasswd(args, os.Stdin, stdout, stderr) // main_protect.go
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgegw: unknown command %q (commands: run, version, bench, tune, passwd; see edgegw help)\n", cmd)
		return 2
	}
}

// versionString is the link-time version, else the VCS revision, else "dev".
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// runCmd is `edgegw run`.
func runCmd(args []string, stderr io.Writer, signals <-chan os.Signal) int {
	fs := flag.NewFlagSet("edgegw run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", "configuration `FILE` (TOML); default: the embedded config.toml")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprint(stderr, usage)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "edgegw run: %v (see edgegw help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgegw run: unexpected argument %q (see edgegw help)\n", fs.Arg(0))
		return 2
	}

	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 2
	}

	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // Validate accepted it
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	log.Info("edgegw starting", "version", versionString(), "go", runtime.Version(), "config", configName(*configPath))
	applyTune(log, cfg) // main_tune.go

	if signals == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(ch)
		signals = ch
	}

	g, err := gateway.New(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "edgegw: cannot create gateway: %v\n", err)
		return 1
	}
	if err := g.Start(); err != nil {
		fmt.Fprintf(stderr, "edgegw: %v\n", err) // e.g. cannot open listener ":1883": address already in use
		return 1
	}
	configured := map[string]string{"tcp": cfg.Listeners.TCP, "ws": cfg.Listeners.WS, "tls": cfg.Listeners.TLS, "wss": cfg.Listeners.WSS, "http": cfg.HTTP.Addr}
	for _, kind := range []string{"tcp", "ws", "tls", "wss", "http"} {
		// addr is what the config asked for; bound is the socket's address.
		if local := g.Addr(kind); local != "" {
			log.Info("listening", "listener", kind, "addr", configured[kind], "bound", boundAddr(configured[kind], local))
		}
	}

	sig := nextStop(signals, g, log, *configPath)
	log.Info("draining", "signal", sig.String(), "timeout", cfg.Drain.Timeout.D().String())
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Drain.Timeout.D())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			log.Error("drain incomplete", "err", err)
			return 1
		}
		log.Info("drained, exiting")
		return 0
	case sig := <-stopSignals(signals, g, log, *configPath):
		log.Warn("second signal: exiting without finishing the drain", "signal", sig.String())
		return 1
	}
}

// nextStop waits for a signal that stops the gateway (SIGINT, SIGTERM).
// SIGHUP re-reads the TLS certificate, key and client CA for new
// connections (Gateway.ReloadTLS); a file that cannot be read is logged and
// the current credentials stay. It also reloads the password file, JWT keys,
// ACL file and [limits] of the configuration at path (reloadProtection).
func nextStop(signals <-chan os.Signal, g *gateway.Gateway, log *slog.Logger, path string) os.Signal {
	for sig := range signals {
		if sig != syscall.SIGHUP {
			return sig
		}
		if err := g.ReloadTLS(); err != nil {
			log.Error("SIGHUP: TLS credentials not reloaded, keeping the current ones", "err", err)
		}
		reloadProtection(g, log, path) // main_protect.go
	}
	return nil
}

// stopSignals delivers the next stopping signal (nextStop) on a channel.
func stopSignals(signals <-chan os.Signal, g *gateway.Gateway, log *slog.Logger, path string) <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	go func() {
		if sig := nextStop(signals, g, log, path); sig != nil {
			ch <- sig
		}
	}()
	return ch
}

// boundAddr is the address a listener configured as addr is bound to, given
// local, the gateway's Addr for it (port 0 resolved, but an all-interfaces
// host replaced by 127.0.0.1, where a local client dials). An empty host
// (":1883") is bound as "[::]": gnet and net.Listen both open one dual-stack
// socket on every interface, IPv4 and IPv6; "0.0.0.0" stays IPv4 only.
func boundAddr(addr, local string) string {
	host, _, err := net.SplitHostPort(addr)
	_, port, err2 := net.SplitHostPort(local)
	if err != nil || err2 != nil {
		return local
	}
	if host == "" {
		host = "::"
	}
	return net.JoinHostPort(host, port)
}

// loadConfig reads the configuration from path, or the embedded
// config.toml when path is "". Problems go to stderr, one line each naming
// the file, the line and the key; ok is false then.
func loadConfig(path string, stderr io.Writer) (cfg config.Config, ok bool) {
	data, name := defaultConfig, configName(path)
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			fmt.Fprintf(stderr, "edgegw: cannot read config: %v\n", err)
			return cfg, false
		}
	}
	cfg, err := config.Parse(data, name)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return cfg, false
	}
	return cfg, true
}

// configName is how logs and errors name the configuration at path.
func configName(path string) string {
	if path == "" {
		return "config.toml (embedded)"
	}
	return path
}
