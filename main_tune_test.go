package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"edgegw/tune"
)

// TestTuneCommand: `edgegw tune` prints the report for the embedded
// configuration and `--json` the same as one JSON object; neither changes
// anything (--apply is not run here: it would raise this machine's
// sysctls). Host values are not asserted, only the report's shape.
func TestTuneCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := realMain([]string{"tune"}, &out, &errOut, nil); code != 0 {
		t.Fatalf("edgegw tune: exit %d, stderr %q", code, errOut.String())
	}
	for _, section := range []string{"cgroup\n", "runtime\n  GOMAXPROCS ", "open files\n", "memory\n  limit ", "sysctls (targets: ", "net.core.somaxconn", "rings\n", "signals (since boot)\n"} {
		if !strings.Contains(out.String(), section) {
			t.Errorf("report lacks %q:\n%s", section, out.String())
		}
	}
	out.Reset()
	if code := realMain([]string{"tune", "--json"}, &out, &errOut, nil); code != 0 {
		t.Fatalf("edgegw tune --json: exit %d, stderr %q", code, errOut.String())
	}
	var rep tune.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, out.String())
	}
	if len(rep.Sysctls) != 10 || rep.Budget.Capacity < 1 || rep.Runtime.GOMAXPROCS < 1 || rep.Apply != "raise" {
		t.Errorf("--json report: %+v", rep)
	}
	errOut.Reset()
	if code := realMain([]string{"tune", "-nope"}, &out, &errOut, nil); code != 2 || !strings.HasPrefix(errOut.String(), "edgegw tune: flag provided but not defined") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut.String())
	}
}
