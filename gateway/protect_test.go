package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProtectPasswordCodes: the password file through the gateway, each
// verdict with its exact CONNACK code for v3.1.1 and v5 [MQTT-3.2.2.3]
// (v5 section 3.2.2.2): a right password is accepted, a wrong one or an
// unknown user is 0x86 (v3 0x04), a disabled account or no credentials
// with anonymous off is 0x87 (v3 0x05).
func TestProtectPasswordCodes(t *testing.T) {
	file := writePasswd(t, map[string]string{"alice": "right", "bob": "right"}, "bob")
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.PasswordFile = file
	})
	for _, tc := range []struct {
		name           string
		user, pass     string
		hasUser, hasPw bool
		v5, v3         int
	}{
		{"right", "alice", "right", true, true, 0x00, 0x00},
		{"wrong", "alice", "wrong", true, true, 0x86, 0x04},
		{"unknown", "carol", "right", true, true, 0x86, 0x04},
		{"disabled", "bob", "right", true, true, 0x87, 0x05},
		{"anonymous", "", "", false, false, 0x87, 0x05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connackOn(t, g, connectAuth(5, "p5-"+tc.name, tc.user, tc.pass, tc.hasUser, tc.hasPw, "")); got != tc.v5 {
				t.Errorf("v5 CONNACK %#x, want %#x", got, tc.v5)
			}
			if got := connackOn(t, g, connectAuth(4, "p3-"+tc.name, tc.user, tc.pass, tc.hasUser, tc.hasPw, "")); got != tc.v3 {
				t.Errorf("v3.1.1 CONNACK %#x, want %#x", got, tc.v3)
			}
		})
	}
	if v := metric(t, g, `edgegw_auth_results_total{cause="bad_password"}`); v < 2 {
		t.Errorf("bad_password counted %v times, want >= 2", v)
	}
	if v := metric(t, g, `edgegw_auth_results_total{cause="disabled"}`); v < 2 {
		t.Errorf("disabled counted %v times, want >= 2", v)
	}
	// The verdicts by cause (read from the pool's counters) and the
	// loop's own causes make one family with one # HELP and # TYPE.
	resp, err := http.Get("http://" + g.Addr("http") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	e := parseExposition(t, body.Bytes())
	for _, fam := range []string{"edgegw_auth_results_total", "edgegw_protect_refused_total", "edgegw_bans"} {
		if len(e.help[fam]) != 1 || len(e.typ[fam]) != 1 || e.samples[fam] < 1 {
			t.Errorf("%s: %d # HELP, %d # TYPE, %d samples", fam, len(e.help[fam]), len(e.typ[fam]), e.samples[fam])
		}
	}
}

// TestProtectMosquittoPasswords: mosquitto_pub with -u/-P (right, wrong,
// disabled account) for MQTT 3.1.1 and 5: it succeeds with the right
// password and reports the refusal the gateway sent otherwise.
func TestProtectMosquittoPasswords(t *testing.T) {
	needMosquittoPub(t)
	file := writePasswd(t, map[string]string{"alice": "right", "bob": "right"}, "bob")
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.PasswordFile = file
	})
	for _, v := range []string{"mqttv311", "mqttv5"} {
		for _, tc := range []struct {
			name, user, pass string
			ok               bool
			want             string // in mosquitto_pub's output
		}{
			{"right", "alice", "right", true, ""},
			{"wrong", "alice", "wrong", false, "ad user name or password"},
			{"disabled", "bob", "right", false, "ot authori"},
		} {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				out, err := mosqRun(t, g, v, "-u", tc.user, "-P", tc.pass, "-i", "m-"+v+tc.name, "-t", "t/x", "-m", "hi", "-q", "1")
				if tc.ok != (err == nil) {
					t.Fatalf("err %v, want ok=%v: %s", err, tc.ok, out)
				}
				if !tc.ok && !strings.Contains(strings.ToLower(out), strings.ToLower(tc.want)) {
					t.Fatalf("output %q lacks %q", out, tc.want)
				}
			})
		}
	}
	_ = time.Second
}
