package gateway

// The glue between the event loops and gateway/relay: forwarding a
// publish (end-to-end acknowledgement through ackToken holds), importing
// upstream messages on a loop, and the subscription changes the
// aggregation counts. See gateway/relay's doc.go for the relay's side.

import (
	"context"
	"time"

	"edgegw/gateway/relay"
	"edgegw/session"
)

func init() {
	for k, v := range relay.MetricHelp() {
		metricHelp[k] = metricMeta{typ: v.Type, help: v.Text}
	}
}

// relayFamilies are the metric families only an upstream writes (none
// without [[relay.upstream]]).
func relayFamilies() map[string]bool {
	out := map[string]bool{}
	for k := range relay.MetricHelp() {
		out[k] = true
	}
	return out
}

// initRelay builds the configured upstreams (New: nothing is dialled yet).
func (g *Gateway) initRelay() error {
	for i, c := range g.cfg.Relay.Upstream {
		up := i
		u, err := relay.New(c, i, relay.Hooks{
			Done:   g.relayDone,
			Import: func(conn int, msgs []*session.Message) { g.relayImport(up, conn, msgs) },
		}, relay.Options{Log: g.log, Metrics: g.m.set})
		if err != nil {
			return err
		}
		g.relays = append(g.relays, u)
	}
	return nil
}

// startRelay dials the upstreams (Start, once the loops run).
func (g *Gateway) startRelay() {
	for _, u := range g.relays {
		u.Start()
	}
}

// stopRelay closes the upstreams (Shutdown, as the drain begins: nothing
// is acknowledged from then on, so what the relay still holds was not
// acknowledged to its devices, which resend it elsewhere; no import
// arrives during the drain).
func (g *Gateway) stopRelay() {
	for _, u := range g.relays {
		u.Close()
	}
}

// forward hands msg to every upstream whose forward rules match it, but not
// to the upstream it was imported from (l.importing; loop prevention for
// 3.1.1, where subscriptions have no No Local). For a device's QoS 1/2
// message (pub != nil, qos > 0) each upstream takes a hold on the
// publisher's ackToken, released by relayDone when that upstream has the
// message; a refusal (buffer full) keeps its hold forever: the device is
// not acknowledged and resends the message. Loop-only; never blocks.
func (l *loop) forward(msg *session.Message, pub *conn, qos byte, hold func() *ackToken) {
	for _, u := range l.g.relays {
		if int(l.importing) == u.Index()+1 || !u.Matches(msg.Topic) {
			continue
		}
		if pub == nil || qos == 0 {
			u.Forward(msg, nil)
			continue
		}
		u.Forward(msg, hold()) // Full: counted by the relay; the hold is never released
	}
}

// relayDone releases one hold per token: the upstream has the message.
// The last hold posts the acknowledgement to the publisher's loop (inAck,
// batched per loop). Runs on a relay goroutine.
func (g *Gateway) relayDone(toks []any) {
	var batch [8]struct {
		l     *loop
		items []inItem
	}
	n := 0
	post := func(l *loop, items []inItem) {
		if l.in.postBatch(items) {
			_ = l.el.Execute(context.Background(), l)
		}
	}
	for _, x := range toks {
		t := x.(*ackToken)
		if t.pending.Add(-1) != 0 {
			continue
		}
		i := 0
		for i < n && batch[i].l != t.l {
			i++
		}
		if i == len(batch) {
			post(t.l, []inItem{{kind: inAck, tok: t}})
			continue
		}
		if i == n {
			batch[i].l, batch[i].items = t.l, nil
			n++
		}
		batch[i].items = append(batch[i].items, inItem{kind: inAck, tok: t})
	}
	for i := 0; i < n; i++ {
		post(batch[i].l, batch[i].items)
	}
}

// relayImport posts upstream messages to one loop, chosen per pooled
// connection so that they keep the connection's order, where they are
// published (inImport). The loops are those seen so far (gnet creates
// them as connections arrive): while their number still grows, a
// connection's imports may move to another loop once. While that loop's inbox is past
// engine.inbox_size it waits (the relay's reader: backpressure on the
// upstream, never a drop). Runs on a relay goroutine.
func (g *Gateway) relayImport(up, conn int, msgs []*session.Message) {
	loops := g.allLoops()
	if len(loops) == 0 {
		return // no client has ever connected: there is no subscriber
	}
	l := loops[(up*7+conn)%len(loops)]
	items := make([]inItem, len(msgs))
	for i, m := range msgs {
		items[i] = inItem{kind: inImport, msg: m, from: uint8(up + 1)}
	}
	for wait := 0; l.in.n.Load() >= int64(g.cfg.Engine.InboxSize) && wait < 5000 && !g.draining.Load(); wait++ {
		time.Sleep(time.Millisecond)
	}
	if l.in.postBatch(items) {
		_ = l.el.Execute(context.Background(), l)
	}
}

// publishImported publishes a message imported from upstream it.from-1.
func (l *loop) publishImported(it *inItem) {
	l.importing = it.from
	l.publish(it.msg, nil, nil, 0, 0)
	l.importing = 0
}

// relaySubscribed and relayUnsubscribed tell every upstream's aggregation
// about a local subscription that began or ended. Loop-only; a map update
// under the upstream's aggregation mutex.
func (l *loop) relaySubscribed(filter []byte) {
	for _, u := range l.g.relays {
		u.Subscribed(filter)
	}
}

func (l *loop) relayUnsubscribed(filters ...[]byte) {
	for _, u := range l.g.relays {
		for _, f := range filters {
			u.Unsubscribed(f)
		}
	}
}
