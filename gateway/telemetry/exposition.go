package telemetry

import (
	"bytes"
	"io"
)

// Help is the # TYPE and # HELP of one metric family on /metrics. The
// caller that defines a family owns its Help; NewServer takes them all in one
// map keyed by family name (the series name without its labels).
type Help struct {
	Type string // "counter" or "gauge"
	Text string // what it counts, and its labels
}

// writeExposition writes body, samples in the Prometheus text format (one
// "name{labels} value" per line, as VictoriaMetrics writes them, without
// metadata), to w with one "# HELP" and one "# TYPE" line from help before
// each family. The samples of a family are written together, families in the
// order of their first sample: the text format requires both, and
// VictoriaMetrics sorts by full series name, which can put another family
// between two series of one ("a_b", "a_b_c", "a_b{x}"). A family missing from
// help is written as "untyped" with its name as help. Comment lines in body
// are dropped. It runs per scrape on the HTTP goroutine; the allocations are
// the scrape's own.
func writeExposition(w io.Writer, body []byte, help map[string]Help) error {
	type family struct {
		name    string
		samples [][]byte
	}
	var fams []*family
	byName := make(map[string]*family, len(help))
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		end := bytes.IndexAny(line, "{ ")
		if end <= 0 {
			continue // not a sample line
		}
		f := byName[string(line[:end])]
		if f == nil {
			f = &family{name: string(line[:end])}
			byName[f.name] = f
			fams = append(fams, f)
		}
		f.samples = append(f.samples, line)
	}
	var out bytes.Buffer
	for _, f := range fams {
		meta, ok := help[f.name]
		if !ok {
			meta = Help{Type: "untyped", Text: f.name}
		}
		out.WriteString("# HELP ")
		out.WriteString(f.name)
		out.WriteByte(' ')
		out.WriteString(meta.Text)
		out.WriteString("\n# TYPE ")
		out.WriteString(f.name)
		out.WriteByte(' ')
		out.WriteString(meta.Type)
		out.WriteByte('\n')
		for _, s := range f.samples {
			out.Write(s)
			out.WriteByte('\n')
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}
