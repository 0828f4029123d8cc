package bench

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// TestMain lets the test binary act as `edgegw bench` when re-executed as a
// --procs worker (os.Args[1] == "bench"), so the multi-process path is tested
// without building the edgegw binary, and as a broker in a child process
// ("mochi-child") so that benchmarks measure the tool's own memory and CPU
// without the broker's.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "bench":
			os.Exit(Main(os.Args[2:], os.Stdout, os.Stderr))
		case "mochi-child":
			os.Exit(mochiChild())
		case "gateway-child":
			os.Exit(gatewayChild())
		}
	}
	os.Exit(m.Run())
}

// mochiChild serves Mochi MQTT on 127.0.0.1:0, prints the address and runs
// until stdin closes.
func mochiChild() int {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = s.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "c", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := s.Serve(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(l.Address())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}
