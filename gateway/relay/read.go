package relay

import (
	"errors"
	"io"
	"net"
	"time"

	"edgegw/mqttcodec"
	"edgegw/session"
)

// read is a connection's reader goroutine: it frames packets from nc
// (rest: bytes read past the CONNACK), applies them, and after each batch
// hands imports to Hooks.Import, tokens to Hooks.Done, and the replies it
// produced to the writer. It returns why the connection ended; the writer
// closes nc to end it.
func (k *link) read(nc net.Conn, rest []byte, addr string) error {
	u := k.u
	buf := make([]byte, 0, max(16<<10, len(rest)))
	buf = append(buf, rest...)
	for {
		off := 0
		for {
			size, err := mqttcodec.PacketSize(buf[off:], u.opt.MaxPacket)
			if err == mqttcodec.ErrNeedMore || (err == nil && size > len(buf)-off) {
				if err == nil && size > cap(buf) {
					nb := make([]byte, len(buf)-off, size)
					copy(nb, buf[off:])
					buf, off = nb, 0
				}
				break
			}
			if err != nil {
				k.endBatch()
				if errors.Is(err, mqttcodec.ErrPacketTooLarge) {
					return errTooLargeInbound // [MQTT-3.1.2-24]
				}
				return wrap(downProtocol, errBadFrame.msg, err)
			}
			if err := k.handle(buf[off:off+size], addr); err != nil {
				k.endBatch()
				return err
			}
			off += size
		}
		k.endBatch()
		if off > 0 {
			n := copy(buf, buf[off:])
			buf = buf[:n]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			k.lastRead.Store(time.Now().UnixNano())
			buf = buf[:len(buf)+n]
		}
		if err != nil {
			if u.closing() {
				return errClosing
			}
			if errors.Is(err, io.EOF) {
				return errEOF
			}
			return wrap(downClosed, errEOF.msg, err)
		}
	}
}

// handle applies one packet from the upstream.
func (k *link) handle(frame []byte, addr string) error {
	u := k.u
	v := u.version
	switch mqttcodec.TypeOf(frame) {
	case mqttcodec.PUBLISH:
		return k.importPublish(frame)
	case mqttcodec.PUBACK, mqttcodec.PUBREC, mqttcodec.PUBCOMP:
		a := &k.ra
		if err := mqttcodec.DecodeAck(frame, v, a); err != nil {
			return wrap(downProtocol, errBadFrame.msg, err)
		}
		k.ack(a)
	case mqttcodec.PUBREL:
		a := &k.ra
		if err := mqttcodec.DecodeAck(frame, v, a); err != nil {
			return wrap(downProtocol, errBadFrame.msg, err)
		}
		// [MQTT-4.3.3-11]: the identifier may be reused once PUBCOMP is sent.
		delete(k.in2, a.PacketID)
		k.acks = mqttcodec.AppendAck(k.acks, v, &mqttcodec.Ack{Type: mqttcodec.PUBCOMP, PacketID: a.PacketID})
	case mqttcodec.SUBACK, mqttcodec.UNSUBACK:
		s := &k.rs
		var err error
		if mqttcodec.TypeOf(frame) == mqttcodec.SUBACK {
			err = mqttcodec.DecodeSuback(frame, v, s)
		} else {
			err = mqttcodec.DecodeUnsuback(frame, v, s)
		}
		if err != nil {
			return wrap(downProtocol, errBadFrame.msg, err)
		}
		k.mu.Lock()
		if s.PacketID == k.opID {
			if mqttcodec.TypeOf(frame) == mqttcodec.SUBACK {
				for i, rc := range s.Reasons {
					if rc >= 0x80 && i < len(k.opSent) {
						u.log.Warn("relay subscription refused", "conn", k.idx, "filter", string(k.opSent[i]), "reason", "0x"+hex2(rc))
					}
				}
			}
			k.opID, k.opSent = 0, k.opSent[:0]
		}
		k.mu.Unlock()
		k.signal()
	case mqttcodec.PINGRESP:
		if err := mqttcodec.DecodePing(frame); err != nil {
			return wrap(downProtocol, errBadFrame.msg, err)
		}
		if k.healthy.CompareAndSwap(false, true) {
			k.setState(stateUp, addr, nil) // CONNACK and a PINGRESP: the backoff resets when this connection ends
		}
	case mqttcodec.DISCONNECT:
		d := mqttcodec.Disconnect{}
		if v == mqttcodec.V5 && mqttcodec.DecodeDisconnect(frame, v, &d) == nil && d.Reason != 0 {
			return wrap(downDisconnect, errServerClosed.msg, errors.New("reason "+d.Reason.String()))
		}
		return errServerClosed
	default:
		return errUnexpected
	}
	return nil
}

// ack applies a PUBACK, PUBREC or PUBCOMP to the message in flight with
// its identifier. An acknowledgement of nothing we have in flight is
// ignored (PUBREC still gets a PUBREL, [MQTT-4.3.3-4]).
func (k *link) ack(a *mqttcodec.Ack) {
	u := k.u
	k.mu.Lock()
	e := k.live[a.PacketID]
	switch a.Type {
	case mqttcodec.PUBACK:
		if e != nil && e.qos == 1 {
			k.complete(e, a.Reason)
		}
	case mqttcodec.PUBREC:
		switch {
		case a.Reason >= 0x80 && e != nil && e.qos == 2:
			k.complete(e, a.Reason) // [MQTT-4.3.3-4] an error PUBREC ends the flow: no PUBREL
		case a.Reason < 0x80:
			rc := mqttcodec.Success
			if e == nil || e.qos != 2 {
				if u.version == mqttcodec.V5 {
					rc = mqttcodec.PacketIDNotFound
				}
			} else {
				e.rec = true
			}
			k.ctrl = mqttcodec.AppendAck(k.ctrl, u.version, &mqttcodec.Ack{Type: mqttcodec.PUBREL, PacketID: a.PacketID, Reason: rc})
			k.mu.Unlock()
			k.signal()
			return
		}
	case mqttcodec.PUBCOMP:
		if e != nil && e.qos == 2 && e.rec {
			rc := a.Reason
			if rc == mqttcodec.PacketIDNotFound {
				// Our PUBREL again, in a resumed session, for a flow the
				// upstream finished before its PUBCOMP reached us: its
				// PUBREC already took the message.
				rc = mqttcodec.Success
			}
			k.complete(e, rc)
		}
	}
	k.mu.Unlock()
}

// complete ends an in-flight message the upstream acknowledged (rc: its
// reason code; >= 0x80 is a refusal, counted as dropped). Under mu.
func (k *link) complete(e *entry, rc mqttcodec.ReasonCode) {
	u := k.u
	delete(k.live, e.id)
	e.done = true
	u.release(e)
	if rc >= 0x80 {
		u.m.dropped[dropRejected].Inc()
	} else {
		u.m.forwarded.Inc()
	}
	if e.at != 0 {
		u.m.observe(float64(time.Now().UnixNano()-e.at) / 1e9)
	}
	if e.tok != nil {
		k.dones = append(k.dones, e.tok)
	}
}

// importPublish applies an upstream PUBLISH: mapped to its local topic and
// queued for Hooks.Import when it matches an import rule; its PUBACK or
// PUBREC is queued to follow the import.
func (k *link) importPublish(frame []byte) error {
	u := k.u
	v := u.version
	p := &k.rp
	if err := mqttcodec.DecodePublish(frame, v, p); err != nil {
		return wrap(downProtocol, errBadFrame.msg, err)
	}
	if p.Props.Has(mqttcodec.PropTopicAlias) {
		return errTopicAlias // we announced no Topic Alias Maximum [MQTT-3.2.2-17]
	}
	deliver := true
	if p.QoS == 2 {
		if k.in2[p.PacketID] {
			deliver = false // a resend before PUBREL [MQTT-4.3.3-9]
		} else {
			k.in2[p.PacketID] = true
		}
	}
	if deliver {
		local := p.Topic[min(len(u.prefix), len(p.Topic)):]
		switch {
		case !u.hasPrefix(p.Topic) || len(local) == 0 || !u.importMatch(local):
			u.m.dropped[dropUnmapped].Inc()
		default:
			k.imports = append(k.imports, session.NewMessage(p, local, time.Now().UnixNano()))
		}
	}
	switch p.QoS {
	case 1:
		k.acks = mqttcodec.AppendAck(k.acks, v, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: p.PacketID})
	case 2:
		k.acks = mqttcodec.AppendAck(k.acks, v, &mqttcodec.Ack{Type: mqttcodec.PUBREC, PacketID: p.PacketID})
	}
	return nil
}

// endBatch ends a read batch: imports to Hooks.Import (then their
// acknowledgements to the writer), tokens to Hooks.Done.
func (k *link) endBatch() {
	u := k.u
	if len(k.imports) > 0 {
		if u.hooks.Import != nil {
			u.hooks.Import(k.idx, k.imports)
		}
		u.m.imported.Add(len(k.imports))
		clear(k.imports)
		k.imports = k.imports[:0]
	}
	if len(k.acks) > 0 {
		k.mu.Lock()
		k.ctrl = append(k.ctrl, k.acks...)
		k.mu.Unlock()
		k.acks = k.acks[:0]
		k.signal()
	}
	if len(k.dones) > 0 {
		if u.hooks.Done != nil {
			u.hooks.Done(k.dones)
		}
		clear(k.dones)
		k.dones = k.dones[:0]
		k.signal() // the window moved
	}
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}
