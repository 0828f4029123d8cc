package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

// TestTableBytesPerConnOnlyForConnections: the summary prints broker bytes
// per connection where connections are the load (conn, storm), and nothing
// in its place for a publishing run, whose RSS grows with messages, not
// clients (a fan-in run printed "(0 B/conn)" with RSS up 3.6 MB).
func TestTableBytesPerConnOnlyForConnections(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		want     string // "" = no B/conn at all
	}{
		{ScenarioFanIn, ""},
		{ScenarioConn, "(710 B/conn)"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			r := &Result{Scenario: tc.scenario, PeakConns: 1000, BrokerRSSStart: 1 << 20, BrokerRSSPeak: 1<<20 + 710_000}
			r.Timeline = []Second{{T: 0, Connected: 1000, BrokerRSS: 1<<20 + 710_000}}
			if tc.scenario == ScenarioFanIn {
				r.Sent, r.Received, r.Expected = 10, 10, 10
			}
			r.finish()
			var out bytes.Buffer
			printTable(&out, r)
			broker := lineWith(out.String(), "broker")
			if broker == "" {
				t.Fatalf("no broker line:\n%s", out.String())
			}
			if tc.want == "" && strings.Contains(broker, "B/conn") {
				t.Fatalf("publishing run prints bytes per connection: %q", broker)
			}
			if tc.want != "" && !strings.Contains(broker, tc.want) {
				t.Fatalf("broker line %q, want %s", broker, tc.want)
			}
		})
	}
}

// TestTimelineDrainLine: the line sampled after the drain wait is labelled
// "drain" in the table (its counts keep the timeline equal to the totals)
// and left out of the chart, which drew it as a collapse to 0 msgs/s; the
// chart's x for each second is the table's t.
func TestTimelineDrainLine(t *testing.T) {
	r := &Result{Scenario: ScenarioFanIn, Sent: 3000, Received: 3002, Expected: 3002, MeasureSeconds: 3}
	for i := 0; i < 3; i++ {
		s := Second{Type: "second", T: i, Sent: 1000, Received: 1000}
		s.Latency.Record(1e6)
		r.Timeline = append(r.Timeline, s)
	}
	r.Timeline = append(r.Timeline, Second{Type: "second", T: 3, Drain: true, Received: 2})
	r.finish()

	var out bytes.Buffer
	printTable(&out, r)
	var firsts []string
	inTimeline := false
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if f[0] == "t" {
			inTimeline = true
			continue
		}
		if inTimeline {
			firsts = append(firsts, f[0])
		}
	}
	if got := strings.Join(firsts, " "); got != "0 1 2 drain" {
		t.Fatalf("timeline rows %q, want \"0 1 2 drain\":\n%s", got, out.String())
	}

	pts, ticks := chartPoints(t, timelineSVG(r))
	want := []float64{0, 1, 2} // the table's t of each second, no drain
	if len(pts) != len(want) {
		t.Fatalf("chart has %d throughput points %v, want %d (one per second, no drain)", len(pts), pts, len(want))
	}
	for i, x := range want {
		// Three points on the plot's full width: x = t.
		if px := float64(padL) + x/2*float64(plotW); fmt.Sprintf("%.1f", px) != fmt.Sprintf("%.1f", pts[i][0]) {
			t.Fatalf("point %d at x %.1f, want %.1f (t=%v)", i, pts[i][0], px, x)
		}
		if y := pts[i][1]; y >= float64(padT+plotH) {
			t.Fatalf("point %d drawn at 0 msgs/s: %v", i, pts)
		}
	}
	if ticks[0] != "0" || ticks[len(ticks)-1] != "2" {
		t.Fatalf("x axis ticks %v, want 0 .. 2 as in the table", ticks)
	}
}

// TestMergeKeepsDrainLast: workers' drain lines merge into one, last, even
// when one worker measured a second more than another.
func TestMergeKeepsDrainLast(t *testing.T) {
	a := &Result{Timeline: []Second{{T: 0, Received: 1}, {T: 1, Received: 1}, {T: 2, Drain: true, Received: 5}}}
	b := &Result{Timeline: []Second{{T: 0, Received: 1}, {T: 1, Received: 1}, {T: 2, Received: 1}, {T: 3, Drain: true, Received: 7}}}
	a.merge(b)
	var got []string
	for _, s := range a.Timeline {
		got = append(got, fmt.Sprintf("%d/%v/%d", s.T, s.Drain, s.Received))
	}
	if g := strings.Join(got, " "); g != "0/false/2 1/false/2 2/false/1 2/true/5 3/true/7" {
		t.Fatalf("merged timeline %s", g)
	}
}

// lineWith returns the first line of s that starts with key.
func lineWith(s, key string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, key) {
			return l
		}
	}
	return ""
}

// chartPoints returns the first polyline's points (the throughput series)
// and the x axis tick labels of an SVG chart.
func chartPoints(t *testing.T, svg []byte) (pts [][2]float64, ticks []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var inTick bool
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			inTick = false
			for _, a := range e.Attr {
				if e.Name.Local == "polyline" && a.Name.Local == "points" && pts == nil {
					for _, p := range strings.Fields(a.Value) {
						var x, y float64
						if _, err := fmt.Sscanf(p, "%f,%f", &x, &y); err != nil {
							t.Fatalf("point %q: %v", p, err)
						}
						pts = append(pts, [2]float64{x, y})
					}
				}
				// x axis labels sit just below the plot.
				if e.Name.Local == "text" && a.Name.Local == "y" && a.Value == fmt.Sprint(padT+plotH+18) {
					inTick = true
				}
			}
		case xml.CharData:
			if inTick {
				ticks = append(ticks, string(e))
				inTick = false
			}
		}
	}
	if len(ticks) == 0 {
		t.Fatal("chart has no x axis labels")
	}
	return pts, ticks
}
