package gateway

import (
	"fmt"
	"runtime/metrics"
)

func goMemClasses() string {
	all := metrics.All()
	var s []metrics.Sample
	for _, d := range all {
		if len(d.Name) > 16 && d.Name[:16] == "/memory/classes/" {
			s = append(s, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(s)
	out := ""
	for _, x := range s {
		out += fmt.Sprintf("%s=%.2f ", x.Name[16:], float64(x.Value.Uint64())/(1<<20))
	}
	return out
}
