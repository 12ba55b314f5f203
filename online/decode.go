package online

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// DecodeRecord decodes one record of the codec's view, as Decoder.Decode does.
func (c *Codec) DecodeRecord(rec string) (Record, error) {
	var d Decoder
	return d.Decode(c, rec)
}

// A Decoder decodes records, allocating their values in blocks that the
// records it decodes share, so that decoding many records costs few
// allocations (see values.Arena). The zero Decoder is ready to use. It is
// not safe for concurrent use.
//
// A Decoder that has been Reset hands out again the memory of the records it
// decoded before, so that a caller decoding one batch of records after
// another, done with each before the next, decodes without allocating once
// its blocks cover a batch.
type Decoder struct {
	arena values.Arena
}

// Reset lets the Decoder hand out again the memory of the values it decoded
// since the last Reset (see Decoder): the records decoded before must not
// be used afterwards.
func (d *Decoder) Reset() { d.arena.Reset() }

// Decode decodes a record of codec c's view. Strings in the record share
// rec's memory; bytes are copied. A record written for another schema of the
// view decodes as not found. Anything malformed is an error wrapping
// ErrCorrupt; Decode never panics, whatever rec holds.
func (d *Decoder) Decode(c *Codec, rec string) (Record, error) {
	found, eventTime, r, err := c.header(rec)
	if !found || err != nil {
		return Record{}, err
	}
	n := len(c.cols)
	bitmap := rec[headerSize:r.off]
	ptrs, vals, batch := d.arena.Take(n, &c.counts)
	out := Record{Found: true, EventTime: eventTime, Values: ptrs}
	for i := range c.cols {
		if null(bitmap, i) {
			continue
		}
		col, v := &c.cols[i], &vals[i]
		switch {
		case col.t.List:
			r.list(v, col)
		case col.rep == values.RepInt32:
			batch.Int32(v, r.int32())
		case col.rep == values.RepInt64:
			batch.Int64(v, col.millis, r.varint())
		case col.rep == values.RepFloat32:
			batch.Float32(v, math.Float32frombits(r.bits32()))
		case col.rep == values.RepFloat64:
			batch.Float64(v, math.Float64frombits(r.bits64()))
		case col.rep == values.RepBool:
			batch.Bool(v, r.bool())
		case col.rep == values.RepString:
			batch.String(v, r.string())
		case col.rep == values.RepBytes:
			batch.Bytes(v, r.bytes())
		default:
			r.fail(fmt.Errorf("the view declares type %s, which has no encoding", col.t))
		}
		if r.err != nil {
			return Record{}, fmt.Errorf("%w: feature %q (%s) at byte %d: %v", ErrCorrupt, c.names[i], col.t, r.off, r.err)
		}
		out.Values[i] = v
	}
	if r.off != len(rec) {
		return Record{}, fmt.Errorf("%w: %d bytes left over after the last value", ErrCorrupt, len(rec)-r.off)
	}
	return out, nil
}

// header checks the header and null bitmap of a record of codec c's view,
// and returns its event time and a reader at its first value. A record
// written for another schema of the view is not found, with no error.
func (c *Codec) header(rec string) (found bool, eventTime time.Time, r reader, err error) {
	if len(rec) < headerSize {
		return false, time.Time{}, r, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(rec), headerSize)
	}
	if rec[0] != recordVersion {
		return false, time.Time{}, r, fmt.Errorf("%w: unknown record version %d", ErrCorrupt, rec[0])
	}
	if rec[1:schemaEnd] != string(c.schema[:]) {
		return false, time.Time{}, r, nil
	}
	n := len(c.cols)
	bitmapEnd := headerSize + (n+7)/8
	if len(rec) < bitmapEnd {
		return false, time.Time{}, r, fmt.Errorf("%w: %d bytes, too short for the null bitmap of %d features", ErrCorrupt, len(rec), n)
	}
	if n%8 != 0 && rec[bitmapEnd-1]>>(n%8) != 0 {
		return false, time.Time{}, r, fmt.Errorf("%w: null bitmap marks features beyond the view's %d", ErrCorrupt, n)
	}
	eventTime = time.UnixMilli(int64(be64(rec[schemaEnd:headerSize]) ^ signBit)).UTC()
	return true, eventTime, reader{s: rec, off: bitmapEnd}, nil
}

// EventTime returns the event time of an encoded record of the codec's view,
// checking its header: a record of another version or schema of the view,
// or too short for a header, is an error wrapping ErrInvalid.
func (c *Codec) EventTime(rec []byte) (time.Time, error) {
	if len(rec) < headerSize || rec[0] != recordVersion || string(rec[1:schemaEnd]) != string(c.schema[:]) {
		return time.Time{}, fmt.Errorf("%w: view %q: not a record of the view's features", ErrInvalid, c.view)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(rec[schemaEnd:headerSize]) ^ signBit)).UTC(), nil
}

// null reports whether feature i of a record is null, by its bitmap.
func null(bitmap string, i int) bool { return bitmap[i/8]&(1<<(i%8)) != 0 }

// reader reads values from s at off. Its first error sticks in err, and
// every read after it returns a zero value.
type reader struct {
	s   string
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// list reads a list of column col into v.
func (r *reader) list(v *almanacv1.Value, col *column) {
	if col.kind == nil {
		r.fail(fmt.Errorf("the view declares type %s, which has no encoding", col.t))
		return
	}
	n := r.count(col.rep.MinSize())
	var l values.List
	switch col.rep {
	case values.RepInt32:
		l.Int32s = readAll(n, r.int32)
	case values.RepInt64:
		l.Int64s = readAll(n, r.varint)
	case values.RepFloat32:
		l.Float32s = readAll(n, func() float32 { return math.Float32frombits(r.bits32()) })
	case values.RepFloat64:
		l.Float64s = readAll(n, func() float64 { return math.Float64frombits(r.bits64()) })
	case values.RepBool:
		l.Bools = readAll(n, r.bool)
	case values.RepString:
		l.Strings = readAll(n, r.string)
	case values.RepBytes:
		l.Bytes = readAll(n, r.bytes)
	}
	col.kind.SetList(v, l)
}

// readAll returns n elements, each read by read.
func readAll[T any](n int, read func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = read()
	}
	return out
}

// count reads a list length whose elements take at least size bytes each,
// refusing any that the bytes left cannot hold.
func (r *reader) count(size int) int {
	n := r.uvarint()
	if left := uint64(len(r.s) - r.off); n > left/uint64(size) {
		r.fail(fmt.Errorf("list of %d elements in %d bytes", n, left))
		return 0
	}
	return int(n)
}

// uvarint reads an unsigned varint, as binary.Uvarint does.
func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var x uint64
	var shift uint
	for i := 0; r.off+i < len(r.s); i++ {
		b := r.s[r.off+i]
		if i == binary.MaxVarintLen64-1 && b > 1 {
			break // overflows 64 bits
		}
		if b < 0x80 {
			r.off += i + 1
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	r.fail(fmt.Errorf("bad varint"))
	return 0
}

// varint reads a zigzag varint, as binary.Varint does.
func (r *reader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (r *reader) int32() int32 {
	x := r.varint()
	if x < math.MinInt32 || x > math.MaxInt32 {
		r.fail(fmt.Errorf("int32 out of range: %d", x))
		return 0
	}
	return int32(x)
}

// fixed returns the next n bytes.
func (r *reader) fixed(n int) string {
	if r.err != nil {
		return ""
	}
	if len(r.s)-r.off < n {
		r.fail(fmt.Errorf("%d bytes left, want %d", len(r.s)-r.off, n))
		return ""
	}
	s := r.s[r.off : r.off+n]
	r.off += n
	return s
}

// bits32 reads the 4 little-endian bytes of a float32.
func (r *reader) bits32() uint32 {
	s := r.fixed(4)
	if len(s) < 4 {
		return 0
	}
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// bits64 reads the 8 little-endian bytes of a float64.
func (r *reader) bits64() uint64 {
	s := r.fixed(8)
	if len(s) < 8 {
		return 0
	}
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func be64(s string) uint64 {
	_ = s[7]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}

func (r *reader) bool() bool {
	s := r.fixed(1)
	if s == "" {
		return false
	}
	if s[0] > 1 {
		r.fail(fmt.Errorf("bool byte %d", s[0]))
		return false
	}
	return s[0] == 1
}

// raw reads a length-prefixed byte string.
func (r *reader) raw() string {
	n := r.uvarint()
	if left := uint64(len(r.s) - r.off); n > left {
		r.fail(fmt.Errorf("%d bytes left, want %d", left, n))
		return ""
	}
	return r.fixed(int(n))
}

func (r *reader) string() string {
	s := r.raw()
	if !utf8.ValidString(s) {
		r.fail(fmt.Errorf("string is not valid UTF-8"))
		return ""
	}
	return s
}

func (r *reader) bytes() []byte {
	return []byte(r.raw())
}
