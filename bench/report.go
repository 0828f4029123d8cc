package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/1e6) }

// printTable writes the human summary of one run.
func printTable(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, a ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...)
	}
	row("scenario", "%s  broker %s  mqtt %d  qos %d  payload %d B  procs %d", r.Scenario, r.Broker, r.MQTT, r.QoS, r.Payload, r.Procs)
	if r.SubBroker != "" {
		row("subscribers", "at %s", r.SubBroker)
	}
	row("clients", "%d  (publishers %d, subscribers %d), peak connected %d", r.Clients, r.Publishers, r.Subscribers, r.PeakConns)
	row("connects", "%d ok, %d failed of %d attempts; %.0f conn/s over %.2fs ramp; error ratio %.4f",
		r.ConnOK, r.ConnFail, r.Attempts, r.ConnectRate, r.RampSeconds, r.ConnErrRatio)
	if len(r.Failures) > 0 {
		row("failures", "%s", failureLine(r.Failures, r.ConnFail))
	}
	cl := &r.ConnectLatency
	row("connect ms", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s", ms(cl.Quantile(.5)), ms(cl.Quantile(.9)), ms(cl.Quantile(.99)), ms(cl.Quantile(.999)), ms(time.Duration(cl.Max)))
	if r.Scenario == ScenarioStorm {
		row("storm", "dropped %d, recovered in %.3fs (-1: not within the run), closed by peer %d", r.Dropped, r.RecoverySec, r.Closed)
	}
	if r.Sent > 0 || r.Received > 0 {
		row("messages", "sent %d  acked %d  errors %d  expected %d  received %d", r.Sent, r.Acked, r.PubErrors, r.Expected, r.Received)
		row("delivery", "ratio %.6f  duplicates %d  out-of-order %d  foreign %d  throttled %d  lagged %d",
			r.DeliveryRatio, r.Duplicates, r.OutOfOrder, r.Foreign, r.Throttled, r.Lagged)
		row("rate msgs/s", "target %.0f  sent %.0f  delivered %.0f over %.2fs", r.TargetRate, r.SendRate, r.Throughput, r.MeasureSeconds)
		if r.TargetRate > 0 && r.SendRate < 0.95*r.TargetRate {
			row("WARNING", "target rate not reached (%.0f%%): QoS window full (throttled %d) or publishers behind (lagged %d)",
				100*r.SendRate/r.TargetRate, r.Throttled, r.Lagged)
		}
		l := &r.Latency
		row("latency ms", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s", ms(l.Quantile(.5)), ms(l.Quantile(.9)), ms(l.Quantile(.99)), ms(l.Quantile(.999)), ms(time.Duration(l.Max)), ms(l.Mean()))
	}
	if r.BrokerRSSPeak > 0 {
		perMsg := ""
		if r.BrokerCPUPerMsg > 0 {
			perMsg = fmt.Sprintf(" (%.2f µs/msg)", r.BrokerCPUPerMsg)
		}
		// B/conn only where connections are the load (conn, storm; see
		// finish); elsewhere RSS grows with messages in flight, not clients.
		perConn := ""
		if r.BrokerBytesConn > 0 {
			perConn = fmt.Sprintf(" (%.0f B/conn)", r.BrokerBytesConn)
		}
		row("broker", "cpu %.2fs%s  rss %d -> peak %d B%s", r.BrokerCPUSeconds, perMsg, r.BrokerRSSStart, r.BrokerRSSPeak, perConn)
	}
	_ = tw.Flush()
	if len(r.Timeline) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "t\tconnected\tconnects\tfailed\tsent\treceived\tp50 ms\tp99 ms\t")
		for _, s := range r.Timeline {
			t := strconv.Itoa(s.T)
			if s.Drain {
				t = "drain" // not a full second: what arrived after publishing stopped
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", t, s.Connected, s.ConnOK, s.ConnFail, s.Sent, s.Received,
				ms(s.Latency.Quantile(.5)), ms(s.Latency.Quantile(.99)))
		}
		_ = tw.Flush()
	}
}

// printStep writes one capacity step line.
func printStep(w io.Writer, dim string, r *Result) {
	pass := "FAIL"
	if r.Pass != nil && *r.Pass {
		pass = "ok"
	}
	fmt.Fprintf(w, "step %s=%-9.0f %-4s conns %-7d conn/s %-8.0f sent/s %-9.0f deliv/s %-9.0f ratio %.4f p99 %s ms connect-p99 %s ms %s\n",
		dim, r.Load, pass, r.PeakConns, r.ConnectRate, r.SendRate, r.Throughput, r.DeliveryRatio,
		ms(r.Latency.Quantile(.99)), ms(r.ConnectLatency.Quantile(.99)), r.Why)
}

// svgPath returns the chart's path next to the JSON file.
func svgPath(jsonPath string) string {
	return strings.TrimSuffix(jsonPath, ".json") + ".svg"
}

// writeRunOutputs writes the JSON lines (one per second, then the summary)
// and the SVG chart when --json is set.
func writeRunOutputs(cfg *Config, r *Result) error {
	if cfg.JSON == "" {
		return nil
	}
	f, err := os.Create(cfg.JSON)
	if err != nil {
		return fmt.Errorf("cannot write --json: %w", err)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for i := range r.Timeline {
		if err := enc.Encode(&r.Timeline[i]); err != nil {
			_ = f.Close()
			return err
		}
	}
	sum := *r
	sum.Timeline = nil
	sum.Type = "summary"
	if err := enc.Encode(&sum); err != nil {
		_ = f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(svgPath(cfg.JSON), timelineSVG(r), 0o644)
}

// writeCapacityOutputs writes one JSON line per step and the capacity curve.
func writeCapacityOutputs(cfg *Config, steps []*Result, best float64) error {
	if cfg.JSON == "" {
		return nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, s := range steps {
		c := *s
		c.Timeline = nil
		if err := enc.Encode(&c); err != nil {
			return err
		}
	}
	_ = enc.Encode(map[string]any{"type": "capacity", "dimension": capacityDimension(cfg), "best": best, "steps": len(steps)})
	if err := os.WriteFile(cfg.JSON, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("cannot write --json: %w", err)
	}
	return os.WriteFile(svgPath(cfg.JSON), capacitySVG(capacityDimension(cfg), steps, best), 0o644)
}

// readSummary returns the last summary line of a JSON lines file.
func readSummary(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var last *Result
	for sc.Scan() {
		var r Result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Type == "summary" {
			last = &r
		}
	}
	if last == nil {
		return nil, fmt.Errorf("%s: no summary line", path)
	}
	return last, sc.Err()
}

// printRatio prints B/A for the headline figures of two runs ("A.json,B.json").
func printRatio(w io.Writer, spec string) error {
	a, b, ok := strings.Cut(spec, ",")
	if !ok {
		return fmt.Errorf("--ratio: want A.json,B.json, got %q", spec)
	}
	ra, err := readSummary(a)
	if err != nil {
		return err
	}
	rb, err := readSummary(b)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "figure\t%s\t%s\tB/A\t\n", filepath.Base(a), filepath.Base(b))
	fig := func(name string, x, y float64) {
		ratio := "-"
		if x != 0 {
			ratio = fmt.Sprintf("%.3f", y/x)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%s\t\n", name, x, y, ratio)
	}
	fig("delivered msgs/s", ra.Throughput, rb.Throughput)
	fig("sent msgs/s", ra.SendRate, rb.SendRate)
	fig("delivery ratio", ra.DeliveryRatio, rb.DeliveryRatio)
	fig("p50 ms", float64(ra.Latency.Quantile(.5))/1e6, float64(rb.Latency.Quantile(.5))/1e6)
	fig("p99 ms", float64(ra.Latency.Quantile(.99))/1e6, float64(rb.Latency.Quantile(.99))/1e6)
	fig("p99.9 ms", float64(ra.Latency.Quantile(.999))/1e6, float64(rb.Latency.Quantile(.999))/1e6)
	fig("connect/s", ra.ConnectRate, rb.ConnectRate)
	fig("connect p99 ms", float64(ra.ConnectLatency.Quantile(.99))/1e6, float64(rb.ConnectLatency.Quantile(.99))/1e6)
	fig("storm recovery s", ra.RecoverySec, rb.RecoverySec)
	fig("broker cpu s", ra.BrokerCPUSeconds, rb.BrokerCPUSeconds)
	fig("broker cpu µs/msg", ra.BrokerCPUPerMsg, rb.BrokerCPUPerMsg)
	fig("broker B/conn", ra.BrokerBytesConn, rb.BrokerBytesConn)
	return tw.Flush()
}
