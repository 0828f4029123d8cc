package ws

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/flate"
)

// rsv1 marks a compressed message on its first frame (RFC 7692 6).
const rsv1 = 0x40

// deflateTail ends every message on the wire before it is inflated: the
// 0x00 0x00 0xff 0xff that the sender removed (RFC 7692 7.2.2), then an empty
// final stored block so that the inflater reports io.EOF at the end of the
// message instead of waiting for more.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// DefaultMaxInflate is the largest inflated message when Inflater.Limit is 0.
const DefaultMaxInflate = 1 << 20

// Inflater decompresses the permessage-deflate messages of every Reader of
// one event loop: with client_no_context_takeover no window survives a
// message, so one decompressor (its 32 KiB window and Huffman tables, about
// 45 KiB, allocated at the first compressed message) serves all of a loop's
// connections, and an idle connection holds none of it. Loop-only: share it
// between the Readers of one goroutine, never between goroutines. Its zero
// value is ready.
type Inflater struct {
	// Limit is the largest inflated message, in bytes; a message that
	// inflates past it ends the stream with close code 1009
	// (ErrInflateTooBig) after at most Limit+1 bytes were produced: a
	// deflate bomb is refused, not inflated. The compressed message is
	// bounded too (compressedLimit). 0 means DefaultMaxInflate.
	Limit int
	// Inflated counts the messages inflated; the caller reads and resets
	// it for its metrics.
	Inflated uint64

	fr   io.ReadCloser // the decompressor, a flate.Resetter
	src  bytes.Reader
	open map[*Reader][]byte // compressed messages being received, by Reader; none for an idle one
	free [][]byte           // buffers for open, reused
}

// begin opens a compressed message for r.
func (f *Inflater) begin(r *Reader) {
	if f.open == nil {
		f.open = make(map[*Reader][]byte)
	}
	f.open[r] = f.get()
}

// end closes r's compressed message and takes its buffer z back.
func (f *Inflater) end(r *Reader, z []byte) {
	delete(f.open, r)
	f.put(z)
}

// limit returns Limit or its default.
func (f *Inflater) limit() int {
	if f.Limit <= 0 {
		return DefaultMaxInflate
	}
	return f.Limit
}

// compressedLimit bounds the compressed bytes of one message: deflate never
// grows data by more than 5 bytes per 16 KiB stored block plus a few bytes,
// so a longer message cannot inflate within Limit.
func (f *Inflater) compressedLimit() uint64 {
	l := uint64(f.limit())
	return l + l/1024 + 64
}

// get lends a buffer for one compressed message.
func (f *Inflater) get() []byte {
	if n := len(f.free); n > 0 {
		b := f.free[n-1]
		f.free[n-1] = nil
		f.free = f.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 512)
}

// put takes back a buffer that get lent; large ones go to the GC so the
// pool stays small.
func (f *Inflater) put(b []byte) {
	if cap(b) <= 64<<10 && len(f.free) < 16 {
		f.free = append(f.free, b[:0])
	}
}

// inflate appends the inflated form of z, one whole compressed message
// without its tail, to dst, at most Limit bytes. On error dst is returned
// unchanged. It does not allocate when dst has room (after the first call,
// which allocates the decompressor).
func (f *Inflater) inflate(dst, z []byte) ([]byte, *CloseError) {
	f.src.Reset(z)
	if f.fr == nil {
		f.fr = flate.NewReader(&f.src)
	} else if err := f.fr.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return dst, ErrInflateCorrupt
	}
	limit := f.limit()
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := min(cap(dst)-len(dst), limit+1-(len(dst)-start))
		k, err := f.fr.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+k]
		if len(dst)-start > limit {
			return dst[:start], ErrInflateTooBig
		}
		switch {
		case err == io.EOF:
			f.Inflated++
			return dst, nil
		case err != nil:
			return dst[:start], ErrInflateCorrupt // RFC 7692 8.2.3 data is not valid DEFLATE
		}
	}
}

// deflateLevel is the compression level of Deflater. klauspost's levels 1
// to 3 emit a stored (uncompressed) block for inputs of a few hundred bytes,
// the usual MQTT message: a 332-byte JSON PUBLISH came out as 342 bytes at
// level 1 and 244 at level 4, a 192-byte one as 198 at level 3 and 155 at
// level 4, in about 4 us; levels 4 to 8 store inputs under about 150 to 190 bytes,
// hence listeners.ws_deflate_min_bytes = 192 (TestDeflateSmall).
const deflateLevel = 4

// Deflater compresses server-to-client messages for every connection of one
// event loop; with server_no_context_takeover each message starts from an
// empty window, so one compressor (a few hundred KiB, allocated at first
// use) serves all of them. Loop-only. Its zero value is ready.
type Deflater struct {
	fw  *flate.Writer
	out appender
}

// appender is an io.Writer that appends to b.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// AppendCompressed compresses the concatenation of segs as one message
// (RFC 7692 7.2.1: deflate, flush, then remove the trailing
// 0x00 0x00 0xff 0xff) and appends it to dst. The message refers back at most
// len(message) - 1 bytes, so a message of at most 2^w bytes honours a
// server_max_window_bits of w. It does not allocate when dst has room (after
// the first call).
func (d *Deflater) AppendCompressed(dst []byte, segs [][]byte) []byte {
	d.out.b = dst
	if d.fw == nil {
		d.fw, _ = flate.NewWriter(&d.out, deflateLevel) // a valid level: no error
	} else {
		d.fw.Reset(&d.out)
	}
	for _, s := range segs {
		_, _ = d.fw.Write(s) // appender never fails
	}
	_ = d.fw.Flush()
	b := d.out.b
	d.out.b = nil
	if bytes.HasSuffix(b, deflateTail[:4]) {
		b = b[:len(b)-4]
	}
	return b
}

// AppendCompressedFrameHeader is AppendFrameHeader for a compressed message
// of n bytes: RSV1 set (RFC 7692 6). Only data frames carry it; control
// frames are never compressed.
func AppendCompressedFrameHeader(dst []byte, n int) []byte {
	return appendHeader(dst, finBit|rsv1|opBinary, n)
}
