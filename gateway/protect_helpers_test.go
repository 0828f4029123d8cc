package gateway

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgegw/gateway/auth"
)

// connectAuth builds a CONNECT (version 4 or 5) with an optional user
// name, password and will (QoS 0).
func connectAuth(version byte, id, user, pass string, hasUser, hasPass bool, willTopic string) []byte {
	var body []byte
	body = append(body, 0, 4, 'M', 'Q', 'T', 'T', version)
	flags := byte(2) // clean
	if hasUser {
		flags |= 0x80
	}
	if hasPass {
		flags |= 0x40
	}
	if willTopic != "" {
		flags |= 0x04
	}
	body = append(body, flags, 0, 30)
	str := func(s string) { body = append(body, byte(len(s)>>8), byte(len(s))); body = append(body, s...) }
	if version == 5 {
		body = append(body, 0)
	}
	str(id)
	if willTopic != "" {
		if version == 5 {
			body = append(body, 0)
		}
		str(willTopic)
		str("bye")
	}
	if hasUser {
		str(user)
	}
	if hasPass {
		str(pass)
	}
	return frame(0x10, body)
}

// protoConnack dials addr, sends pre (a PROXY header or nil) then pkt, and
// returns the CONNACK's return/reason code, -1 when the connection closed
// without one, -2 when neither came within 10 s, -3 for another packet.
// Safe from any goroutine (it does not fail t).
func protoConnack(t testing.TB, addr string, pre, pkt []byte) int {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
	if _, err := nc.Write(append(append([]byte(nil), pre...), pkt...)); err != nil {
		return -1
	}
	h, body, err := rc.readPacket(10 * time.Second)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return -2 // neither an answer nor a close: the caller fails
		}
		return -1
	}
	if h != 0x20 || len(body) < 2 {
		return -3 // not a CONNACK
	}
	return int(body[1])
}

// connackOn is protoConnack on g's tcp listener without a PROXY header.
func connackOn(t testing.TB, g *Gateway, pkt []byte) int {
	t.Helper()
	return protoConnack(t, g.Addr("tcp"), nil, pkt)
}

// writePasswd writes a password file with users (name -> password) at
// bcrypt cost 4, the disabled ones marked.
func writePasswd(t testing.TB, users map[string]string, disabled ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "passwd")
	for u, p := range users {
		if err := auth.SetPassword(file, u, p, 4); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range disabled {
		if err := auth.SetDisabled(file, u, true); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// writeFile writes content to a new file in t's temporary directory.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mosqRun runs mosquitto_pub with args against g and returns its exit error and output.
func mosqRun(t *testing.T, g *Gateway, version string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(g.Addr("tcp"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mosquitto_pub", append([]string{"-h", host, "-p", port, "-V", version}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// needMosquittoPub skips without mosquitto_pub, except under CI (as the
// interop tests of package gateway_test do).
func needMosquittoPub(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mosquitto_pub not found but CI is set: install mosquitto-clients")
		}
		t.Skip("mosquitto_pub not installed (apt-get install mosquitto-clients)")
	}
}

// authSetPassword is auth.SetPassword.
func authSetPassword(file, user, pw string, cost int) error {
	return auth.SetPassword(file, user, pw, cost)
}
