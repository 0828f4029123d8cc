package telemetry

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
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
// (gateway/metrics_test.go has the same parser for a live gateway's scrape.)
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

// TestMetricsExpositionGroupsFamilies: series of one family that the
// series-name order separates ("a_b{x}" sorts after "a_b_c") are written
// together under one # HELP and # TYPE, and comment lines are dropped; a
// family the table lacks is written as untyped with its name as help.
func TestMetricsExpositionGroupsFamilies(t *testing.T) {
	in := "edgegw_connections 1\n# HELP edgegw_connections\nedgegw_connections_opened_total 2\n" +
		"go_memory_bytes{class=\"a\"} 3\nedgegw_connections_closed_total{reason=\"network\"} 4\ngo_memory_bytes{class=\"b\"} 5"
	help := map[string]Help{
		"edgegw_connections":              {"gauge", "Client connections open now."},
		"edgegw_connections_opened_total": {"counter", "Client connections accepted."},
		"edgegw_connections_closed_total": {"counter", "Client connections closed, by reason."},
		"go_memory_bytes":                 {"gauge", "Memory mapped by the Go runtime, by class."},
	}
	var out bytes.Buffer
	if err := writeExposition(&out, []byte(in), help); err != nil {
		t.Fatal(err)
	}
	e := parseExposition(t, out.Bytes())
	want := []string{"edgegw_connections", "edgegw_connections_opened_total", "go_memory_bytes", "edgegw_connections_closed_total"}
	if !slices.Equal(e.order, want) || e.samples["go_memory_bytes"] != 2 {
		t.Fatalf("families %v, samples %v; want %v with 2 go_memory_bytes\n%s", e.order, e.samples, want, out.Bytes())
	}
	for _, fam := range want {
		if len(e.help[fam]) != 1 || len(e.typ[fam]) != 1 {
			t.Errorf("%s: %d HELP, %d TYPE", fam, len(e.help[fam]), len(e.typ[fam]))
		} else if e.help[fam][0] != help[fam].Text || e.typ[fam][0] != help[fam].Type {
			t.Errorf("%s: HELP %q TYPE %q, want the table's", fam, e.help[fam][0], e.typ[fam][0])
		}
	}
	out.Reset()
	_ = writeExposition(&out, []byte("undocumented_total 1\n"), help)
	if got := out.String(); got != "# HELP undocumented_total undocumented_total\n# TYPE undocumented_total untyped\nundocumented_total 1\n" {
		t.Errorf("undocumented family written as\n%s", got)
	}
}

// TestMetricsServerMetadata: a scrape of a Server whose set also holds a Log
// writes every family of MetricHelp, each with one # HELP from the table and
// one # TYPE (counters and only counters end in _total), plus the caller's
// own families with the caller's texts.
func TestMetricsServerMetadata(t *testing.T) {
	set := metrics.NewSet()
	set.NewCounter(`app_things_total{kind="a"}`).Inc()
	help := MetricHelp()
	help["app_things_total"] = Help{"counter", "Things the caller counts, by kind."}
	s, err := NewServer(Config{Root: "testdata/rss"}, set, help, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = NewLog(slog.DiscardHandler, 0, set)
	ln := listenLocal(t)
	s.Serve(ln)
	t.Cleanup(s.Close)
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4" {
		t.Errorf("Content-Type %q", ct)
	}
	e := parseExposition(t, body)
	for _, fam := range e.order {
		h, typ := e.help[fam], e.typ[fam]
		if len(h) != 1 || len(typ) != 1 {
			t.Errorf("%s: %d # HELP and %d # TYPE lines, want one each", fam, len(h), len(typ))
			continue
		}
		if m, ok := help[fam]; !ok || h[0] != m.Text || typ[0] != m.Type {
			t.Errorf("%s: help %q type %q, want the table's", fam, h[0], typ[0])
		}
		if strings.HasSuffix(fam, "_total") != (typ[0] == "counter") {
			t.Errorf("%s: type %s, but counters and only counters end in _total", fam, typ[0])
		}
	}
	for fam := range help {
		if e.samples[fam] == 0 {
			t.Errorf("the table documents %s, which /metrics does not write", fam)
		}
	}
	// process_resident_memory_bytes comes from the fake tree, not the host.
	for _, line := range []string{`process_resident_memory_bytes{kind="anon"} 167772160`, `process_resident_memory_bytes{kind="file"} 16777216`} {
		if !bytes.Contains(body, []byte(line+"\n")) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
