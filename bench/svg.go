package bench

import (
	"fmt"
	"math"
	"strings"
)

// The charts are hand-written SVG: two series over a shared x axis, left
// axis for throughput, right axis for p99 latency.

const (
	svgW, svgH         = 800, 400
	padL, padR         = 70, 70
	padT, padB         = 40, 50
	colThroughput      = "#1f77b4"
	colLatency         = "#d62728"
	colConnected       = "#2ca02c"
	plotW, plotH       = svgW - padL - padR, svgH - padT - padB
	svgTicks           = 5
	svgFont            = `font-family="sans-serif" font-size="12"`
	svgHeaderTemplate  = `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">` + "\n"
	svgBackground      = `<rect width="100%" height="100%" fill="white"/>` + "\n"
	svgAxisStyle       = `stroke="#333" stroke-width="1"`
	svgGridStyle       = `stroke="#ddd" stroke-width="1"`
	svgPolylinePattern = `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>` + "\n"
)

type series struct {
	name  string
	color string
	ys    []float64
	right bool
}

func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// chart draws series over xs.
func chart(title, xLabel, leftLabel, rightLabel string, xs []float64, ss []series) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, svgHeaderTemplate, svgW, svgH, svgW, svgH)
	b.WriteString(svgBackground)
	fmt.Fprintf(&b, `<text x="%d" y="20" %s font-weight="bold">%s</text>`+"\n", padL, svgFont, esc(title))
	xMin, xMax := 0.0, 1.0
	if len(xs) > 0 {
		xMin, xMax = xs[0], xs[0]
		for _, x := range xs {
			xMin, xMax = math.Min(xMin, x), math.Max(xMax, x)
		}
		if xMax == xMin {
			xMax = xMin + 1
		}
	}
	lMax, rMax := 0.0, 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			if s.right {
				rMax = math.Max(rMax, y)
			} else {
				lMax = math.Max(lMax, y)
			}
		}
	}
	lMax, rMax = niceMax(lMax), niceMax(rMax)
	px := func(x float64) float64 { return padL + (x-xMin)/(xMax-xMin)*plotW }
	py := func(y, m float64) float64 { return padT + plotH - y/m*plotH }
	for i := 0; i <= svgTicks; i++ {
		y := padT + plotH - float64(i)*plotH/svgTicks
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" %s/>`+"\n", padL, y, padL+plotW, y, svgGridStyle)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" %s fill="%s">%s</text>`+"\n", padL-6, y+4, svgFont, colThroughput, fmtNum(lMax*float64(i)/svgTicks))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s fill="%s">%s</text>`+"\n", padL+plotW+6, y+4, svgFont, colLatency, fmtNum(rMax*float64(i)/svgTicks))
		x := xMin + (xMax-xMin)*float64(i)/svgTicks
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" %s>%s</text>`+"\n", px(x), padT+plotH+18, svgFont, fmtNum(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", padL, padT+plotH, padL+plotW, padT+plotH, svgAxisStyle)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" %s/>`+"\n", padL, padT, padL, padT+plotH, svgAxisStyle)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" %s>%s</text>`+"\n", padL+plotW/2, svgH-10, svgFont, esc(xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle" %s fill="%s">%s</text>`+"\n", padT+plotH/2, padT+plotH/2, svgFont, colThroughput, esc(leftLabel))
	fmt.Fprintf(&b, `<text x="%d" y="%d" transform="rotate(90 %d %d)" text-anchor="middle" %s fill="%s">%s</text>`+"\n", svgW-14, padT+plotH/2, svgW-14, padT+plotH/2, svgFont, colLatency, esc(rightLabel))
	for k, s := range ss {
		m := lMax
		if s.right {
			m = rMax
		}
		var pts strings.Builder
		for i, y := range s.ys {
			if i < len(xs) {
				fmt.Fprintf(&pts, "%.1f,%.1f ", px(xs[i]), py(y, m))
			}
		}
		fmt.Fprintf(&b, svgPolylinePattern, s.color, strings.TrimSpace(pts.String()))
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s fill="%s">%s</text>`+"\n", padL+10+k*220, padT-8, svgFont, s.color, esc(s.name))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

// timelineSVG charts delivered msgs/s (or connections) and p99 per second,
// at the same t as the table. The drain line is not a second and is left out.
func timelineSVG(r *Result) []byte {
	var xs, thr, p99 []float64
	conn := r.Sent == 0 && r.Received == 0
	for _, s := range r.Timeline {
		if s.Drain {
			continue
		}
		xs = append(xs, float64(s.T))
		if conn {
			thr = append(thr, float64(s.Connected))
		} else {
			thr = append(thr, float64(s.Received))
		}
		p99 = append(p99, float64(s.Latency.Quantile(.99))/1e6)
	}
	title := fmt.Sprintf("edgegw bench %s, %s, qos %d", r.Scenario, r.Broker, r.QoS)
	if conn {
		return chart(title, "seconds", "connected", "p99 ms", xs,
			[]series{{name: "connected", color: colConnected, ys: thr}})
	}
	return chart(title, "seconds", "delivered msgs/s", "p99 latency ms", xs,
		[]series{{name: "delivered msgs/s", color: colThroughput, ys: thr}, {name: "p99 ms", color: colLatency, ys: p99, right: true}})
}

// capacitySVG charts the capacity curve: achieved throughput (or
// connections) and p99 against the load tried, steps sorted by load.
func capacitySVG(dim string, steps []*Result, best float64) []byte {
	sorted := append([]*Result(nil), steps...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].Load < sorted[j-1].Load; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var xs, ys, p99 []float64
	for _, s := range sorted {
		xs = append(xs, s.Load)
		if dim == "rate" {
			ys = append(ys, s.Throughput)
			p99 = append(p99, float64(s.Latency.Quantile(.99))/1e6)
		} else {
			ys = append(ys, float64(s.PeakConns))
			p99 = append(p99, float64(s.ConnectLatency.Quantile(.99))/1e6)
		}
	}
	left := "delivered msgs/s"
	if dim != "rate" {
		left = "connected"
	}
	return chart(fmt.Sprintf("capacity: %s, highest sustained %.0f", dim, best), dim+" (load tried)", left, "p99 ms", xs,
		[]series{{name: left, color: colThroughput, ys: ys}, {name: "p99 ms", color: colLatency, ys: p99, right: true}})
}
