package gateway

import (
	"context"
	"errors"
	"time"

	"edgegw/mqttcodec"
)

// Shutdown drains the gateway: it stops accepting, sends v5 clients
// DISCONNECT 0x8B (0x9C with the Server Reference when
// drain.server_reference is set), closes v3 clients, lets queued bytes
// flush, and stops the engine. It returns when done, or with ctx's error
// when ctx expires first (the engine is stopped either way).
func (g *Gateway) Shutdown(ctx context.Context) error {
	select {
	case <-g.booted:
	default:
		return nil // never started (or Start failed): nothing to drain
	}
	if !g.draining.CompareAndSwap(false, true) {
		return errors.New("gateway: shutdown already in progress")
	}
	if g.tls != nil {
		_ = g.tls.ln.Close() // stop accepting TLS clients; relays end with their connections
	}
	for _, l := range g.allLoops() {
		postNow(l, inItem{kind: inDrain})
	}
	var werr error
	tick := time.NewTicker(5 * time.Millisecond)
	for g.m.conns.Load() > 0 && werr == nil {
		select {
		case <-ctx.Done():
			werr = ctx.Err()
		case <-tick.C:
		}
	}
	tick.Stop()
	stopCtx := ctx
	if werr != nil {
		var cancel context.CancelFunc
		stopCtx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	// Engine.Stop polls every 500 ms; gnet.Rotate returning (g.done) is the
	// earlier signal that the engine stopped.
	stopErr := make(chan error, 1)
	go func() { stopErr <- g.eng.Stop(stopCtx) }()
	select {
	case <-g.done:
	case err := <-stopErr:
		if err != nil && werr == nil {
			werr = err
		}
	}
	if g.httpSrv != nil {
		g.httpSrv.close()
	}
	if g.tls != nil {
		g.tls.close()
	}
	// Write the log lines the loops queued (the drain's closes among them).
	logCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	g.alog.stop(logCtx)
	cancel()
	return werr
}

// drain closes every connection of the loop (graceful shutdown).
func (l *loop) drain() {
	rc := mqttcodec.ServerShuttingDown
	ref := l.g.cfg.Drain.ServerReference
	if ref != "" {
		rc = mqttcodec.UseAnotherServer
	}
	conns := l.conns.appendTo(nil)
	for _, c := range conns {
		if c.state == stConnected {
			c.kickRef(rc, closeShutdown, nil, ref)
		} else {
			c.kick(0, closeShutdown, nil)
		}
	}
	l.st.fold(l.g.m)
}
