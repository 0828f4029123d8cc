package session

import (
	"container/list"
	"fmt"
	"math/rand/v2"
	"testing"

	"edgegw/mqttcodec"
)

// aliasStreams are the topic sequences the alias policy is measured on
// (topics of about 75 bytes, 16 aliases):
//   - steady: 16 topics in turn (a fan-out of a fleet's telemetry);
//   - zipf: 1,000 topics drawn with Zipf s=1.2 (a wildcard subscriber of a
//     busy tree: a few hot topics, a long tail);
//   - drift: 16 live topics at a time, one replaced every 2,000 messages
//     (devices come and go over a long connection).
func aliasStreams(n int) map[string][]*Message {
	topic := func(i int) *Message {
		return topicMsg(0, fmt.Sprintf("tenants/acme-logistics/sites/hamburg-port-03/devices/reefer-%05d/telemetry", i))
	}
	pool := make([]*Message, 1000+n/2000+16)
	for i := range pool {
		pool[i] = topic(i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, 999)
	out := map[string][]*Message{}
	for i := 0; i < n; i++ {
		out["steady"] = append(out["steady"], pool[i%16])
		out["zipf"] = append(out["zipf"], pool[z.Uint64()])
		out["drift"] = append(out["drift"], pool[i/2000+r.IntN(16)])
	}
	return out
}

// BenchmarkAliasPolicy compares the bytes per message a subscriber receives
// with no aliases, with the policy in alias.go (first 16 topics kept), and
// with LRU replacement of 16 aliases (a naive model: a hit sends the alias,
// a miss re-announces its slot with topic + alias), on the streams of
// aliasStreams.
//
//	go test -run '^$' -bench AliasPolicy -benchtime 100000x ./session/
func BenchmarkAliasPolicy(b *testing.B) {
	const aliases = 16
	streams := aliasStreams(100_000)
	lim := testLim
	lim.OutTopicAliases = aliases
	for _, name := range []string{"steady", "zipf", "drift"} {
		msgs := streams[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			full, first := New(&Params{Version: mqttcodec.V5}, &lim), New(&Params{Version: mqttcodec.V5, TopicAliasMax: aliases}, &lim)
			full.Connected, first.Connected = true, true
			arena := make([]byte, 0, 1<<16)
			o := &Out{Arena: &arena}
			var st SendStats
			var fullB, firstB, lruB int
			lru, where := list.New(), map[string]*list.Element{}
			for i := 0; i < b.N; i++ {
				m := msgs[i%len(msgs)]
				o.Reset()
				arena = arena[:0]
				full.Deliver(Delivery{Msg: m}, 0, o, &st)
				nf := o.Bytes
				fullB += nf
				o.Reset()
				arena = arena[:0]
				first.Deliver(Delivery{Msg: m}, 0, o, &st)
				firstB += o.Bytes
				// LRU model: the Topic Alias property costs 3 bytes; a hit
				// leaves the topic out. (Remaining length growth ignored.)
				k := string(m.Topic)
				if e, ok := where[k]; ok {
					lru.MoveToFront(e)
					lruB += nf + 3 - len(m.Topic)
					continue
				}
				if lru.Len() == aliases {
					delete(where, lru.Remove(lru.Back()).(string))
				}
				where[k] = lru.PushFront(k)
				lruB += nf + 3
			}
			b.ReportMetric(float64(fullB)/float64(b.N), "full-bytes/msg")
			b.ReportMetric(float64(firstB)/float64(b.N), "firstN-bytes/msg")
			b.ReportMetric(float64(lruB)/float64(b.N), "lru-bytes/msg")
		})
	}
}
