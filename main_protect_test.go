package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// connackFor dials addr, sends a v3.1.1 CONNECT with user and password and
// returns the CONNACK return code (-1 on a close without one).
func connackFor(t *testing.T, addr, id, user, pass string) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	str := func(b []byte, s string) []byte { return append(append(b, byte(len(s)>>8), byte(len(s))), s...) }
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 60}
	body = str(str(str(body, id), user), pass)
	if _, err := nc.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(nc, ack); err != nil {
		return -1
	}
	return int(ack[3])
}

// TestBinaryPasswdAndSIGHUP: `edgegw passwd FILE USER` adds a user (password
// on stdin) and disables one; SIGHUP makes the running gateway use the new
// file; a broken file on the next SIGHUP keeps the previous version, is
// logged without secrets and counted as a failed reload.
func TestBinaryPasswdAndSIGHUP(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	passwd := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"passwd", "-cost", "4"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("edgegw passwd %v: %v: %s", args, err, out)
		}
	}
	passwd("a-secret\n", pw, "alice")
	if fi, err := os.Stat(pw); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", fi, err)
	}
	tcpPort, httpPort := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "edge.toml")
	writeFile(t, cfgPath, fmt.Sprintf(`[listeners]
tcp = "127.0.0.1:%d"
ws = ""

[http]
addr = "127.0.0.1:%d"

[auth]
allow_anonymous = false
password_file = %q

[drain]
timeout = "2s"

[tune]
apply = "off"
`, tcpPort, httpPort, pw))
	cmd, stderr, exited := startBinary(t, bin, cfgPath, httpPort)
	addr := fmt.Sprintf("127.0.0.1:%d", tcpPort)
	if got := connackFor(t, addr, "a1", "alice", "a-secret"); got != 0 {
		t.Fatalf("alice: %#x", got)
	}
	if got := connackFor(t, addr, "b1", "bob", "b-secret"); got != 0x04 {
		t.Fatalf("bob before: %#x, want 0x04", got)
	}
	hup := func(wantLog string) {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(stderr.String(), wantLog) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no %q logged after SIGHUP", wantLog)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	passwd("b-secret\n", pw, "bob")
	passwd("", "-disable", pw, "alice")
	hup("protection reloaded")
	if got := connackFor(t, addr, "b2", "bob", "b-secret"); got != 0 {
		t.Fatalf("bob after SIGHUP: %#x", got)
	}
	if got := connackFor(t, addr, "a2", "alice", "a-secret"); got != 0x05 {
		t.Fatalf("disabled alice: %#x, want 0x05", got)
	}
	if err := os.WriteFile(pw, []byte("bob:$2a$04$broken-hash-text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup("protection not fully reloaded")
	if got := connackFor(t, addr, "b3", "bob", "b-secret"); got != 0 {
		t.Fatalf("bob after a broken reload: %#x", got)
	}
	for _, secret := range []string{"broken-hash-text", "b-secret", "a-secret"} {
		if strings.Contains(stderr.String(), secret) {
			t.Fatalf("the log shows %q", secret)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`edgegw_protect_reloads_total{result="failed"} 1`)) ||
		!bytes.Contains(body, []byte(`edgegw_protect_reloads_total{result="ok"} 1`)) {
		t.Fatalf("reload counters missing:\n%s", body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("still running after SIGTERM")
	}
}
