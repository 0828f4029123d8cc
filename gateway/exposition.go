package gateway

import (
	"bytes"
	"io"
)

// writeExposition writes body, samples in the Prometheus text format (one
// "name{labels} value" per line, as VictoriaMetrics writes them, without
// metadata), to w with one "# HELP" and one "# TYPE" line from metricHelp
// before each family. The samples of a family are written together, families
// in the order of their first sample: the text format requires both, and
// VictoriaMetrics sorts by full series name, which can put another family
// between two series of one ("a_b", "a_b_c", "a_b{x}"). Comment lines in body
// are dropped. It runs per scrape on the HTTP goroutine; the allocations are
// the scrape's own.
func writeExposition(w io.Writer, body []byte) error {
	type family struct {
		name    string
		samples [][]byte
	}
	var fams []*family
	byName := make(map[string]*family, len(metricHelp))
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
		meta, ok := metricHelp[f.name]
		if !ok {
			meta = metricMeta{typ: "untyped", help: f.name}
		}
		out.WriteString("# HELP ")
		out.WriteString(f.name)
		out.WriteByte(' ')
		out.WriteString(meta.help)
		out.WriteString("\n# TYPE ")
		out.WriteString(f.name)
		out.WriteByte(' ')
		out.WriteString(meta.typ)
		out.WriteByte('\n')
		for _, s := range f.samples {
			out.Write(s)
			out.WriteByte('\n')
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}
