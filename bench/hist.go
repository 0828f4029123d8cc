package bench

import (
	"encoding/json"
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-bucketed with fixed buckets, so histograms
// from different loops and worker processes merge exactly by adding counts.
// Values are nanoseconds: exact below 32 ns, then 32 buckets per power of two
// (relative error under 3.2%), up to 2^42 ns (73 minutes); larger values land
// in the last bucket (Max stays exact).
const (
	histSubBits  = 5
	histSub      = 1 << histSubBits
	histMaxExp   = 42
	histBuckets  = (histMaxExp - histSubBits + 1) * histSub
	histMaxValue = int64(1)<<histMaxExp - 1
)

// bucketOf returns the bucket index of v (ns).
func bucketOf(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	if v > histMaxValue {
		v = histMaxValue
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1
	return (e+1)*histSub + int(v>>uint(e)) - histSub
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return m << uint(e), (m+1)<<uint(e) - 1
}

// Hist is a plain (single-owner) histogram snapshot; merge with Add.
type Hist struct {
	Count   uint64
	Sum     uint64 // ns
	Max     int64  // ns, exact
	Buckets [histBuckets]uint64
}

// Record adds one value (ns).
func (h *Hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.Buckets[bucketOf(v)]++
	h.Count++
	h.Sum += uint64(v)
	if v > h.Max {
		h.Max = v
	}
}

// Add merges o into h exactly.
func (h *Hist) Add(o *Hist) {
	for i, n := range o.Buckets {
		h.Buckets[i] += n
	}
	h.Count += o.Count
	h.Sum += o.Sum
	if o.Max > h.Max {
		h.Max = o.Max
	}
}

// Sub removes an earlier snapshot o from h (for per-second deltas); Max is kept.
func (h *Hist) Sub(o *Hist) {
	for i, n := range o.Buckets {
		h.Buckets[i] -= n
	}
	h.Count -= o.Count
	h.Sum -= o.Sum
}

// Quantile returns the value at quantile q (0..1), as the upper end of its
// bucket (capped by Max); 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.Count) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > h.Count {
		rank = h.Count
	}
	var seen uint64
	for i, n := range h.Buckets {
		seen += n
		if seen >= rank {
			_, hi := bucketRange(i)
			if hi > h.Max {
				hi = h.Max
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(h.Max)
}

// Mean returns the average value.
func (h *Hist) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return time.Duration(h.Sum / h.Count)
}

type histJSON struct {
	Count   uint64      `json:"count"`
	SumNS   uint64      `json:"sum_ns"`
	MaxNS   int64       `json:"max_ns"`
	P50NS   int64       `json:"p50_ns"`
	P90NS   int64       `json:"p90_ns"`
	P99NS   int64       `json:"p99_ns"`
	P999NS  int64       `json:"p999_ns"`
	Buckets [][2]uint64 `json:"buckets"` // sparse [index, count]
}

// MarshalJSON writes the summary quantiles and the sparse buckets.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{Count: h.Count, SumNS: h.Sum, MaxNS: h.Max,
		P50NS: int64(h.Quantile(0.5)), P90NS: int64(h.Quantile(0.9)),
		P99NS: int64(h.Quantile(0.99)), P999NS: int64(h.Quantile(0.999)),
		Buckets: [][2]uint64{}}
	for i, n := range h.Buckets {
		if n > 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), n})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote; the buckets are authoritative.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Hist{Count: j.Count, Sum: j.SumNS, Max: j.MaxNS}
	for _, p := range j.Buckets {
		if p[0] < histBuckets {
			h.Buckets[p[0]] += p[1]
		}
	}
	return nil
}

// liveHist is written by one event loop and read by the sampler.
type liveHist struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Int64
}

// record adds one value; called only by the owning loop.
func (h *liveHist) record(v int64) {
	if v < 0 {
		v = 0
	}
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(uint64(v))
	if v > h.max.Load() {
		h.max.Store(v)
	}
}

// addTo adds the current contents to dst.
func (h *liveHist) addTo(dst *Hist) {
	var c uint64
	for i := range h.buckets {
		n := h.buckets[i].Load()
		dst.Buckets[i] += n
		c += n
	}
	// Count from the buckets so that a racing record never leaves Count and
	// Buckets inconsistent.
	dst.Count += c
	dst.Sum += h.sum.Load()
	if m := h.max.Load(); m > dst.Max {
		dst.Max = m
	}
}
