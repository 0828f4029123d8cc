package mqttcodec

import (
	"bytes"
	"testing"
)

// TestPublishHeaderOncePerSubscriber is the fan-out path: one header per
// variant, the packet identifier patched per delivery, the payload shared.
func TestPublishHeaderOncePerSubscriber(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		p := &Publish{QoS: 1, Topic: []byte("a/b"), Payload: bytes.Repeat([]byte("p"), 200)}
		if v == V5 {
			p.Props = Properties{Present: propBits(PropMessageExpiry), MessageExpiry: 10}
		}
		hdr := NewPublishHeader(nil, v, p, len(p.Payload))
		if hdr.IDOffset < 0 {
			t.Fatal("QoS 1 header without an ID slot")
		}
		for _, id := range []uint16{1, 2, 0xfffe} {
			hdr.SetPacketID(id)
			frame := append(append([]byte(nil), hdr.Buf...), p.Payload...)
			var got Publish
			if err := DecodePublish(frame, v, &got); err != nil {
				t.Fatalf("%v: %v", v, err)
			}
			q := *p
			q.PacketID = id
			if canonOurs(&got, v) != canonOurs(&q, v) {
				t.Fatalf("%v id %d:\n got %s\nwant %s", v, id, canonOurs(&got, v), canonOurs(&q, v))
			}
			if !bytes.Equal(frame, AppendPublish(nil, v, &q)) {
				t.Fatalf("%v: header+payload differs from AppendPublish", v)
			}
		}
		SetDup(hdr.Buf)
		frame := append(append([]byte(nil), hdr.Buf...), p.Payload...)
		var got Publish
		if err := DecodePublish(frame, v, &got); err != nil || !got.Dup {
			t.Fatalf("SetDup: %v dup=%v", err, got.Dup)
		}
	}
	// QoS 0: no slot, SetPacketID is a no-op.
	out, off := AppendPublishHeader(nil, V311, &Publish{Topic: []byte("t")}, 3)
	if off != -1 {
		t.Fatalf("QoS 0 idOffset = %d", off)
	}
	before := append([]byte(nil), out...)
	SetPacketID(out, off, 7)
	SetPacketID(out, 100, 7) // out of range: no-op, no panic
	SetDup(nil)
	if !bytes.Equal(before, out) {
		t.Fatal("SetPacketID changed a QoS 0 header")
	}
	// idOffset is relative to out, so a non-empty dst works.
	out, off = AppendPublishHeader([]byte("xyz"), V311, &Publish{QoS: 2, Topic: []byte("t"), PacketID: 5}, 0)
	if off != 3+2+3 || out[off] != 0 || out[off+1] != 5 {
		t.Fatalf("offset %d in % x", off, out)
	}
}

func TestPropertiesHelpers(t *testing.T) {
	var p Properties
	if p.Has(PropUser) || p.Has(PropSubscriptionID) || p.Has(PropTopicAlias) || p.Has(PropID(99)) {
		t.Fatal("zero Properties has something")
	}
	p.TopicAlias = 4
	p.Set(PropTopicAlias)
	p.Set(PropID(99)) // ignored
	p.User = AppendUserProperty(p.User, []byte("k"), []byte("v"))
	p.SubscriptionIDs[0], p.NumSubscriptionIDs = 9, 1
	if !p.Has(PropTopicAlias) || !p.Has(PropUser) || !p.Has(PropSubscriptionID) {
		t.Fatal("Has")
	}
	enc := AppendProperties(nil, &p)
	want := props(pV(PropSubscriptionID, 9), pU16(PropTopicAlias, 4), pUser("k", "v"))
	if !bytes.Equal(enc, want) || p.Len() != len(want)-1 {
		t.Fatalf("AppendProperties % x, want % x (Len %d)", enc, want, p.Len())
	}
	p.Reset()
	if p.Has(PropTopicAlias) || p.Has(PropUser) || !bytes.Equal(AppendProperties(nil, &p), []byte{0}) {
		t.Fatal("Reset")
	}
	// NextUser skips other properties and stops at malformed input.
	userRaw := cat(pUser("a", "1"), pB(PropPayloadFormat, 1), pUser("b", "2"))
	k, v, rest, ok := NextUser(userRaw)
	if !ok || string(k) != "a" || string(v) != "1" {
		t.Fatal("NextUser 1")
	}
	k, v, rest, ok = NextUser(rest)
	if !ok || string(k) != "b" || string(v) != "2" || len(rest) != 0 {
		t.Fatal("NextUser 2")
	}
	if _, _, _, ok := NextUser(rest); ok {
		t.Fatal("NextUser past end")
	}
	for _, bad := range [][]byte{raw(0x26, 0, 5, 'a'), raw(0x7f), raw(0x02, 0, 0), raw(0x0b, 0x80)} {
		if _, _, _, ok := NextUser(bad); ok {
			t.Fatalf("NextUser(% x) ok", bad)
		}
	}
	// More than four subscription identifiers: encode from MoreSubscriptionIDs.
	q := Properties{SubscriptionIDs: [4]uint32{1, 2, 3, 4}, NumSubscriptionIDs: 6, MoreSubscriptionIDs: []uint32{5, 268435455}}
	enc = AppendProperties(nil, &q)
	want = props(pV(PropSubscriptionID, 1), pV(PropSubscriptionID, 2), pV(PropSubscriptionID, 3), pV(PropSubscriptionID, 4),
		pV(PropSubscriptionID, 5), pV(PropSubscriptionID, 268435455))
	if !bytes.Equal(enc, want) {
		t.Fatalf("six subscription IDs: % x, want % x", enc, want)
	}
	if q.SubscriptionID(7) != 0 {
		t.Fatal("SubscriptionID out of range")
	}
}

// TestDecodeResetsProperties: a decode into a struct that held properties
// from an earlier packet leaves nothing stale behind.
func TestDecodeResetsProperties(t *testing.T) {
	var p Publish
	full := pkt(0x30, str("t"), props(pU16(PropTopicAlias, 3), pUser("k", "v"), pV(PropSubscriptionID, 4)))
	if err := DecodePublish(full, V5, &p); err != nil {
		t.Fatal(err)
	}
	if err := DecodePublish(pkt(0x30, str("t"), props()), V5, &p); err != nil {
		t.Fatal(err)
	}
	if p.Props.Has(PropTopicAlias) || p.Props.TopicAlias != 0 || p.Props.User != nil || p.Props.NumSubscriptionIDs != 0 {
		t.Fatalf("stale properties: %+v", p.Props)
	}
	if err := DecodePublish(full, V5, &p); err != nil {
		t.Fatal(err)
	}
	if err := DecodePublish(pkt(0x30, str("t")), V311, &p); err != nil {
		t.Fatal(err)
	}
	if p.Props.Has(PropTopicAlias) || p.Props.User != nil {
		t.Fatal("stale properties after v3 decode")
	}
}

// TestNoAllocationForClaimedLength: lengths the peer claims but has not sent
// are rejected without allocating.
func TestNoAllocationForClaimedLength(t *testing.T) {
	var p Publish
	var s Subscribe
	hugeProps := pkt(0x30, str("t"), raw(0xff, 0xff, 0xff, 0x7f), b("x"))
	hugeTopic := pkt(0x30, raw(0xff, 0xff), b("x"))
	hugeFilter := pkt(0x82, be16(1), raw(0xff, 0xff), b("x"))
	assertNoAllocs(t, "claimed property length", func() {
		if DecodePublish(hugeProps, V5, &p) != ErrPropLength {
			t.Fatal("want ErrPropLength")
		}
	})
	assertNoAllocs(t, "claimed topic length", func() {
		if DecodePublish(hugeTopic, V311, &p) != ErrTruncated {
			t.Fatal("want ErrTruncated")
		}
	})
	assertNoAllocs(t, "claimed filter length", func() {
		if DecodeSubscribe(hugeFilter, V311, &s) != ErrTruncated {
			t.Fatal("want ErrTruncated")
		}
	})
	assertNoAllocs(t, "claimed remaining length", func() {
		if _, err := PacketSize(raw(0x30, 0xff, 0xff, 0xff, 0x7f), 1<<20); err != ErrPacketTooLarge {
			t.Fatal("want ErrPacketTooLarge")
		}
	})
}

func TestCheckPayloadFormat(t *testing.T) {
	p := &Publish{Topic: []byte("t"), Payload: []byte("\xff")}
	if CheckPayloadFormat(p) != nil {
		t.Fatal("no indicator: any payload is fine")
	}
	p.Props.PayloadFormat = 1
	p.Props.Set(PropPayloadFormat)
	if err := CheckPayloadFormat(p); err != ErrPayloadFormat || ReasonOf(err) != PayloadFormatInvalid {
		t.Fatalf("invalid UTF-8 payload: %v", err)
	}
	p.Payload = []byte("héllo")
	if CheckPayloadFormat(p) != nil {
		t.Fatal("valid UTF-8 payload rejected")
	}
	p.Props.PayloadFormat = 0
	p.Payload = []byte{0, 0xff}
	if CheckPayloadFormat(p) != nil {
		t.Fatal("indicator 0: bytes are unspecified")
	}
}
