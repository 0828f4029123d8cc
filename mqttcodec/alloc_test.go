package mqttcodec

import (
	"testing"
)

func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, f); n != 0 {
		t.Errorf("%s: %v allocs per run, want 0", name, n)
	}
}

func TestAllocsFraming(t *testing.T) {
	head := raw(0x32, 0xc8, 0x01)
	assertNoAllocs(t, "PacketSize", func() { _, _ = PacketSize(head, 1<<20) })
	assertNoAllocs(t, "PacketSize need more", func() { _, _ = PacketSize(head[:2], 0) })
	assertNoAllocs(t, "PacketSize too large", func() { _, _ = PacketSize(head, 10) })
}

func TestAllocsDecode(t *testing.T) {
	for _, g := range allGoldens() {
		g := g
		p := newLike(g.want)
		// Warm the scratch (Subscribe.Filters, Unsubscribe.Filters) once: the
		// contract is zero allocations when the caller keeps its scratch.
		if err := decodeInto(g.frame, g.v, p); err != nil {
			t.Fatal(err)
		}
		assertNoAllocs(t, "decode "+g.v.String()+"/"+g.name, func() {
			if err := decodeInto(g.frame, g.v, p); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Errors are pre-allocated: failing decodes do not allocate either.
	var pub Publish
	bad := pkt(0x30, str("a/+"))
	assertNoAllocs(t, "decode error", func() { _ = DecodePublish(bad, V311, &pub) })
}

func TestAllocsEncode(t *testing.T) {
	for _, g := range allGoldens() {
		g := g
		buf := make([]byte, 0, len(g.frame))
		assertNoAllocs(t, "encode "+g.v.String()+"/"+g.name, func() {
			buf = encode(buf[:0], g.v, TypeOf(g.frame), g.want)
		})
	}
	p := benchPublish(V5, 16)
	hdr := make([]byte, 0, 128)
	assertNoAllocs(t, "AppendPublishHeader", func() {
		var off int
		hdr, off = AppendPublishHeader(hdr[:0], V5, p, 16)
		SetPacketID(hdr, off, 9)
		SetDup(hdr)
	})
}

func TestAllocsValidation(t *testing.T) {
	assertNoAllocs(t, "ValidUTF8String", func() { _ = ValidUTF8String([]byte("héllo wörld, ünïcode")) })
	assertNoAllocs(t, "ValidTopicName", func() { _ = ValidTopicName(benchTopic) })
	assertNoAllocs(t, "ValidTopicFilter", func() { _ = ValidTopicFilter([]byte("$share/g/a/+/b/#")) })
}
