package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// probeClient describes, from the loops' side, every connection whose
// session is client ID id: its state, the flags that stop its reads or
// writes, its output backlog and its session's inflight and queued
// messages. For loss reports: it tells a session whose queue stopped moving
// from one that never got the messages. Runs on each loop (Execute); a loop
// that does not answer in 2 s is named as such.
func probeClient(g *Gateway, id string) string {
	var out []string
	for i, l := range g.allLoops() {
		done := make(chan []string, 1)
		err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			var found []string
			for k := 0; k < l.conns.n; k++ {
				c := l.conns.at(k)
				if c.rec == nil || c.rec.id != id {
					continue
				}
				s := fmt.Sprintf("loop %d: state=%d closed=%v stalled=%v paused=%v pumping=%v coalescing=%v backlog=%d",
					i, c.state, c.closed, c.stalled, c.paused, c.pumping, c.coalescing, c.writeBacklog())
				if st := c.rec.st; st != nil {
					n, b := st.Queued()
					s += fmt.Sprintf(" inflight=%d queued=%d (%d B) canSend=%v rec.conn==c %v", st.Inflight(), n, b, st.CanSend(), c.rec.conn == c)
				}
				found = append(found, s)
			}
			found = append(found, fmt.Sprintf("loop %d: pump list %d, pumpDue=%v pumpAt=%v", i, len(l.pump), l.pumpDue, l.pumpAt))
			done <- found
			return nil
		}))
		if err != nil {
			out = append(out, fmt.Sprintf("loop %d: %v", i, err))
			continue
		}
		select {
		case f := <-done:
			out = append(out, f...)
		case <-time.After(2 * time.Second):
			out = append(out, fmt.Sprintf("loop %d: no answer in 2 s", i))
		}
	}
	return strings.Join(out, "; ")
}
