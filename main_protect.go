package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"edgegw/gateway"
	"edgegw/gateway/auth"
	"edgegw/gateway/config"
)

const passwdUsage = `usage: edgegw passwd [-cost N] [-disable | -enable] FILE USER
  Adds USER to the password file FILE (auth.password_file), or replaces its
  password, with a bcrypt hash. The password is read from standard input (one
  line), or asked twice on a terminal. -disable locks the account (refused
  0x87, its hash kept), -enable unlocks it. The file is replaced atomically;
  send the gateway SIGHUP to reload it.
`

// runPasswd is `edgegw passwd`.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgegw passwd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cost := fs.Int("cost", 10, "bcrypt `cost` (4-31)")
	disable := fs.Bool("disable", false, "disable the account")
	enable := fs.Bool("enable", false, "enable the account again")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, passwdUsage)
			return 0
		}
		fmt.Fprintf(stderr, "edgegw passwd: %v\n%s", err, passwdUsage)
		return 2
	}
	if fs.NArg() != 2 || *disable && *enable {
		fmt.Fprint(stderr, passwdUsage)
		return 2
	}
	file, user := fs.Arg(0), fs.Arg(1)
	if *disable || *enable {
		if err := auth.SetDisabled(file, user, *disable); err != nil {
			fmt.Fprintf(stderr, "edgegw passwd: %s: %v\n", file, err)
			return 1
		}
		return 0
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "edgegw passwd: %v\n", err)
		return 1
	}
	if err := auth.SetPassword(file, user, pw, *cost); err != nil {
		fmt.Fprintf(stderr, "edgegw passwd: %s: %v\n", file, err) // never the password
		return 1
	}
	return 0
}

// readPassword reads the password: asked twice without echo on a
// terminal, else the first line of stdin.
func readPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	var saved *unix.Termios
	if ok {
		if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			saved = t
		}
	}
	if saved == nil {
		return readLine(bufio.NewReader(stdin))
	}
	noEcho := *saved
	noEcho.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, saved)
	r := bufio.NewReader(f)
	fmt.Fprint(prompt, "Password: ")
	a, err := readLine(r)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	fmt.Fprint(prompt, "Again: ")
	b, err := readLine(r)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	if a != b {
		return "", errors.New("the passwords differ")
	}
	return a, nil
}

// readLine reads one line without its end.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// reloadProtection is the SIGHUP reload of the password file, JWT keys,
// ACL file and [limits]: the configuration at path is parsed again for its
// [limits]; a configuration that no longer parses keeps the current limits
// and still reloads the files.
func reloadProtection(g *gateway.Gateway, log *slog.Logger, path string) {
	var next *config.Config
	data, name := defaultConfig, configName(path)
	var err error
	if path != "" {
		data, err = os.ReadFile(path)
	}
	if err == nil {
		var cfg config.Config
		if cfg, err = config.Parse(data, name); err == nil {
			next = &cfg
		}
	}
	if err != nil {
		log.Error("SIGHUP: configuration not re-read, keeping the current [limits]", "err", err)
	}
	_ = g.ReloadProtection(next) // logs and counts its own failures
}
