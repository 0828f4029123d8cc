package limit

import "testing"

// TestReasonCodes pins each refusal's label and MQTT codes to the issue's
// table: v5 0x9F rate, 0x97 quota, 0x8A banned, 0x96 message rate; v3 0x03
// quota, 0x05 banned, close otherwise.
func TestReasonCodes(t *testing.T) {
	cases := []struct {
		r         Reason
		label     string
		v5        byte
		v3        byte
		v3Answer  bool
		atConnect bool
	}{
		{ConnectRate, "connect_rate", 0x9F, 0, false, true},
		{ConnectRateIP, "connect_rate_per_ip", 0x9F, 0, false, true},
		{UserQuota, "max_connections_per_user", 0x97, 0x03, true, true},
		{AuthRate, "auth_rate_per_user", 0x9F, 0, false, true},
		{Banned, "banned", 0x8A, 0x05, true, true},
		{Flapping, "flapping", 0x8A, 0x05, true, true},
		{PublishRate, "publish_rate", 0x96, 0, false, false},
		{PublishBytes, "publish_bytes", 0x96, 0, false, false},
	}
	if len(cases) != len(Reasons) {
		t.Fatalf("%d cases for %d reasons", len(cases), len(Reasons))
	}
	seen := map[string]bool{}
	for i, c := range cases {
		if Reasons[i] != c.r {
			t.Errorf("Reasons[%d] = %v", i, Reasons[i])
		}
		code, answer := c.r.V3()
		if c.r.String() != c.label || c.r.V5() != c.v5 || code != c.v3 || answer != c.v3Answer || c.r.AtConnect() != c.atConnect {
			t.Errorf("%v: got %q v5 %#x v3 %#x/%v atConnect %v", c.r, c.r.String(), c.r.V5(), code, answer, c.r.AtConnect())
		}
		if seen[c.label] {
			t.Errorf("duplicate label %q", c.label)
		}
		seen[c.label] = true
	}
	if OK.String() != "ok" || OK.V5() != 0 || Reason(200).String() != "unknown" || Reason(200).V5() != 0x80 {
		t.Error("OK or unknown reason")
	}
	if _, answer := OK.V3(); answer {
		t.Error("OK has a v3 refusal code")
	}
}
