package limit

// PublishRates are the per-connection publish limits, derived once from a
// Config and shared read-only by every connection.
type PublishRates struct {
	Msgs, Bytes Rate
}

// PublishRates returns the rates of publish_rate_per_client and
// publish_bytes_per_client.
func (c Config) PublishRates() PublishRates {
	return PublishRates{Msgs: perSecond(c.PublishRatePerClient), Bytes: perSecond(c.PublishBytesPerClient)}
}

// Off reports whether both publish limits are off.
func (p PublishRates) Off() bool { return p.Msgs.Off() && p.Bytes.Off() }

// Publish is one connection's publish shaping state: two buckets, 16
// bytes, no map. It lives on the connection and is used only by the loop
// that owns it (Loop-only). The zero value is full.
type Publish struct {
	msgs, bytes Bucket
}

// Allow decides one PUBLISH of size bytes at now: PublishRate or
// PublishBytes when over a limit (nothing is taken then), else OK with one
// message and size bytes taken.
func (p *Publish) Allow(now int64, size int, r PublishRates) Reason {
	mt, bt := p.msgs.tat, p.bytes.tat
	ok := true
	if !r.Msgs.Off() {
		if mt, ok = r.Msgs.next(mt, now, 1); !ok {
			return PublishRate
		}
	}
	if !r.Bytes.Off() {
		if bt, ok = r.Bytes.next(bt, now, int64(size)); !ok {
			return PublishBytes
		}
	}
	p.msgs.tat, p.bytes.tat = mt, bt
	return OK
}
