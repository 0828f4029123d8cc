package gateway

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// exposition is /metrics parsed: per family its HELP and TYPE lines and its
// samples, in order.
type exposition struct {
	help, typ map[string][]string // family -> texts of its # HELP / # TYPE lines
	samples   map[string]int
	order     []string // families in order of their first line
}

// parseExposition checks the Prometheus text format rules that matter to a
// scraper: a family's # HELP and # TYPE come before its first sample, and its
// samples are not split by another family's. Violations are reported on t.
func parseExposition(t *testing.T, body []byte) *exposition {
	t.Helper()
	e := &exposition{help: map[string][]string{}, typ: map[string][]string{}, samples: map[string]int{}}
	done := map[string]bool{} // families whose block has ended
	cur := ""
	enter := func(fam string) {
		if fam == cur {
			return
		}
		if done[fam] {
			t.Errorf("family %s split: its lines resume after %s's", fam, cur)
		}
		if cur != "" {
			done[cur] = true
		}
		cur = fam
		e.order = append(e.order, fam)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			fam, text, _ := strings.Cut(line[len("# HELP "):], " ")
			enter(fam)
			e.help[fam] = append(e.help[fam], text)
		case strings.HasPrefix(line, "# TYPE "):
			fam, typ, _ := strings.Cut(line[len("# TYPE "):], " ")
			enter(fam)
			e.typ[fam] = append(e.typ[fam], typ)
		case line == "" || strings.HasPrefix(line, "#"):
			t.Errorf("unexpected line %q", line)
		default:
			fam := line[:strings.IndexAny(line, "{ ")]
			enter(fam)
			if len(e.help[fam]) == 0 || len(e.typ[fam]) == 0 {
				t.Errorf("sample %q before its family's # HELP and # TYPE", line)
			}
			e.samples[fam]++
		}
	}
	return e
}

// TestMetricsMetadata: every series on /metrics has exactly one # HELP with a
// text from metricHelp and one # TYPE (counter or gauge, _total families are
// counters), both before its samples (before: none, so Prometheus ingested
// every series as untyped).
func TestMetricsMetadata(t *testing.T) {
	g := newTestGateway(t, nil)
	c := v5Client(t, g, &paho.Connect{ClientID: "meta", CleanStart: true}, nil)
	c.sub(t, "meta/#", 1)
	c.pub(t, "meta/x", 1, "v")
	c.expect(t, "meta/x", "v")
	time.Sleep(30 * time.Millisecond) // a tick folds the loop counters
	resp, err := http.Get("http://" + g.Addr("http") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	e := parseExposition(t, body.Bytes())
	if len(e.order) < 30 {
		t.Fatalf("only %d families on /metrics:\n%s", len(e.order), body.Bytes())
	}
	for _, fam := range e.order {
		help, typ := e.help[fam], e.typ[fam]
		if len(help) != 1 || len(typ) != 1 {
			t.Errorf("%s: %d # HELP and %d # TYPE lines, want one each", fam, len(help), len(typ))
			continue
		}
		if m, ok := metricHelp[fam]; !ok || help[0] != m.help || len(help[0]) < 10 {
			t.Errorf("%s: help %q, want its text from metricHelp", fam, help[0])
		}
		if typ[0] != "counter" && typ[0] != "gauge" {
			t.Errorf("%s: type %q", fam, typ[0])
		}
		if strings.HasSuffix(fam, "_total") != (typ[0] == "counter") {
			t.Errorf("%s: type %s, but counters and only counters end in _total", fam, typ[0])
		}
		if e.samples[fam] == 0 {
			t.Errorf("%s: metadata without samples", fam)
		}
	}
	// Every documented family is written (a stale entry would document nothing).
	relayOnly := relayFamilies() // written per [[relay.upstream]]: TestRelayMetrics checks them
	for fam := range metricHelp {
		if e.samples[fam] == 0 && !relayOnly[fam] {
			t.Errorf("metricHelp documents %s, which /metrics does not write", fam)
		}
	}
}

// TestMetricsREADMETable: the README's "Metrics" table lists exactly the
// families of metricHelp, each with its type.
func TestMetricsREADMETable(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(data), "\n## Metrics\n")
	if !ok {
		t.Fatal(`README.md has no "## Metrics" section`)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (counter|gauge) \\|")
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		seen[m[1]] = true
		if meta, ok := metricHelp[m[1]]; !ok {
			t.Errorf("README lists %s, which /metrics does not write", m[1])
		} else if meta.typ != m[2] {
			t.Errorf("README: %s is a %s, metricHelp says %s", m[1], m[2], meta.typ)
		}
	}
	for fam := range metricHelp {
		if !seen[fam] {
			t.Errorf("README's Metrics table lacks %s", fam)
		}
	}
}
