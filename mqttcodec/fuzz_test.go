package mqttcodec

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets, one per decoder family. Each checks: no panic on any input;
// every successful decode re-encodes to bytes that decode equal (compared
// semantically with canonOurs); PacketSize agrees with the frame. Seed
// corpora live in testdata/fuzz/<Target>/ (regenerate with
// MQTTCODEC_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus ./mqttcodec/)
// and the golden frames are added in code as well.

var fuzzVersions = [3]Version{V31, V311, V5}

func fuzzVersion(b byte) Version { return fuzzVersions[int(b)%3] }

// seedFor adds every golden frame whose type is in types.
func seedFor(f *testing.F, types ...PacketType) {
	for _, g := range allGoldens() {
		for _, t := range types {
			if TypeOf(g.frame) == t {
				f.Add(g.frame, byte(g.v)%3)
			}
		}
	}
}

// roundTrip decodes frame, and on success re-encodes and decodes again.
func roundTrip(t *testing.T, frame []byte, v Version) {
	p, err := decodeFrame(frame, v)
	if err != nil {
		if _, ok := err.(*Error); !ok {
			t.Fatalf("error %v is not an *Error", err)
		}
		return
	}
	if n, err := PacketSize(frame, 0); err != nil || n != len(frame) {
		t.Fatalf("decoded a frame PacketSize rejects: %d, %v", n, err)
	}
	want := canonOurs(p, v)
	enc := encode(nil, v, TypeOf(frame), p)
	q, err := decodeFrame(enc, v)
	if err != nil {
		t.Fatalf("re-encoded % x (from % x) does not decode: %v", enc, frame, err)
	}
	if got := canonOurs(q, v); got != want {
		t.Fatalf("round trip differs\n got %s\nwant %s\nin  % x\nout % x", got, want, frame, enc)
	}
}

// fuzzFamily restricts the input to the family's types, so that the fuzzer
// spends its time inside that decoder.
func fuzzFamily(f *testing.F, types ...PacketType) {
	seedFor(f, types...)
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		if len(data) == 0 {
			return
		}
		ok := false
		for _, ty := range types {
			ok = ok || TypeOf(data) == ty
		}
		if !ok {
			return
		}
		roundTrip(t, data, fuzzVersion(vb))
	})
}

func FuzzConnect(f *testing.F)   { fuzzFamily(f, CONNECT) }
func FuzzConnack(f *testing.F)   { fuzzFamily(f, CONNACK) }
func FuzzPublish(f *testing.F)   { fuzzFamily(f, PUBLISH) }
func FuzzAck(f *testing.F)       { fuzzFamily(f, PUBACK, PUBREC, PUBREL, PUBCOMP) }
func FuzzSubscribe(f *testing.F) { fuzzFamily(f, SUBSCRIBE, UNSUBSCRIBE) }
func FuzzSuback(f *testing.F)    { fuzzFamily(f, SUBACK, UNSUBACK) }
func FuzzControl(f *testing.F)   { fuzzFamily(f, PINGREQ, PINGRESP, DISCONNECT, AUTH) }

// FuzzStream treats the input as a byte stream: frames it with PacketSize,
// decodes each frame, and checks that every prefix of the stream gives
// ErrNeedMore or the same answer as the whole (split anywhere, the same
// result).
func FuzzStream(f *testing.F) {
	for _, v := range fuzzVersions {
		var stream []byte
		for _, g := range allGoldens() {
			if g.v == v {
				stream = append(stream, g.frame...)
			}
		}
		f.Add(stream, byte(v)%3)
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		v := fuzzVersion(vb)
		for len(data) > 0 {
			size, err := PacketSize(data, 1<<16)
			for k := 0; k < len(data) && k <= MaxFixedHeader; k++ {
				s2, err2 := PacketSize(data[:k], 1<<16)
				if err2 != ErrNeedMore && (s2 != size || err2 != err) {
					t.Fatalf("PacketSize(prefix %d) = %d, %v; whole = %d, %v", k, s2, err2, size, err)
				}
			}
			if err == ErrNeedMore || (err == nil && size > len(data)) {
				return
			}
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("PacketSize error %v is not an *Error", err)
				}
				return
			}
			roundTrip(t, data[:size:size], v)
			data = data[size:]
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz from the golden vectors when
// MQTTCODEC_WRITE_CORPUS=1; otherwise it checks that every target has a
// non-empty seed corpus directory.
func TestWriteFuzzCorpus(t *testing.T) {
	targets := map[string][]PacketType{
		"FuzzConnect": {CONNECT}, "FuzzConnack": {CONNACK}, "FuzzPublish": {PUBLISH},
		"FuzzAck": {PUBACK, PUBREC, PUBREL, PUBCOMP}, "FuzzSubscribe": {SUBSCRIBE, UNSUBSCRIBE},
		"FuzzSuback": {SUBACK, UNSUBACK}, "FuzzControl": {PINGREQ, PINGRESP, DISCONNECT, AUTH},
		"FuzzStream": nil,
	}
	write := os.Getenv("MQTTCODEC_WRITE_CORPUS") == "1"
	for name, types := range targets {
		dir := filepath.Join("testdata", "fuzz", name)
		if !write {
			ents, err := os.ReadDir(dir)
			if err != nil || len(ents) == 0 {
				t.Errorf("%s: no seed corpus in %s (%v)", name, dir, err)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n := 0
		put := func(data []byte, v Version) {
			n++
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%d)\n", data, byte(v)%3)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", n)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range allGoldens() {
			if types == nil {
				continue
			}
			for _, ty := range types {
				if TypeOf(g.frame) == ty {
					put(g.frame, g.v)
				}
			}
		}
		if types == nil {
			for _, v := range fuzzVersions {
				var stream []byte
				for _, g := range allGoldens() {
					if g.v == v {
						stream = append(stream, g.frame...)
					}
				}
				put(stream, v)
			}
		}
	}
}
