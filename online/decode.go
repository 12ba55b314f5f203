package online

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// DecodeRecord decodes one record of the codec's view, as Decoder.Decode does.
func (c *Codec) DecodeRecord(rec string) (Record, error) {
	var d Decoder
	return d.Decode(c, rec)
}

// A Decoder decodes records, allocating their values in blocks that the
// records it decodes share, so that decoding many records costs few
// allocations. A block stays in memory while any value in it is referenced.
// The zero Decoder is ready to use. It is not safe for concurrent use.
//
// A Decoder that has been Reset keeps the blocks it allocates afterwards and
// hands them out again after the next Reset, so that a caller decoding one
// batch of records after another, done with each before the next, decodes
// without allocating once its blocks cover a batch.
type Decoder struct {
	ptrs    block[*almanacv1.Value]
	values  block[almanacv1.Value]
	int32s  block[almanacv1.Value_Int32Val]
	int64s  block[almanacv1.Value_Int64Val]
	float32 block[almanacv1.Value_FloatVal]
	float64 block[almanacv1.Value_DoubleVal]
	bools   block[almanacv1.Value_BoolVal]
	strings block[almanacv1.Value_StringVal]
	bytes   block[almanacv1.Value_BytesVal]
	times   block[almanacv1.Value_UnixTimestampVal]
}

// maxBlock bounds the size of the blocks a Decoder allocates.
const maxBlock = 1024

// block hands out elements of T from larger allocations.
type block[T any] struct {
	free []T
	size int // of the last allocation
	// Once reset: every allocation made since, and how many of them have
	// been handed out since the last reset.
	reuse  bool
	allocs [][]T
	next   int
}

// take returns n zero elements, with no spare capacity.
func (b *block[T]) take(n int) []T {
	if n == 0 {
		return nil
	}
	if len(b.free) < n {
		b.free = b.alloc(n)
	}
	s := b.free[:n:n]
	b.free = b.free[n:]
	return s
}

// alloc returns at least n zero elements: the next kept allocation big
// enough, or a new one.
func (b *block[T]) alloc(n int) []T {
	for b.reuse && b.next < len(b.allocs) {
		a := b.allocs[b.next]
		b.next++
		if len(a) >= n {
			return a
		}
	}
	b.size = max(min(2*b.size, maxBlock), n)
	a := make([]T, b.size)
	if b.reuse {
		b.allocs = append(b.allocs, a)
		b.next = len(b.allocs)
	}
	return a
}

// reset zeroes the kept allocations handed out since the last reset, for
// take to hand out again, and keeps every allocation from now on.
func (b *block[T]) reset() {
	for _, a := range b.allocs[:b.next] {
		clear(a)
	}
	b.free, b.next, b.reuse = nil, 0, true
}

// Reset lets the Decoder hand out again the memory of the values it decoded
// since the last Reset (see Decoder): the records decoded before must not
// be used afterwards.
func (d *Decoder) Reset() {
	d.ptrs.reset()
	d.values.reset()
	d.int32s.reset()
	d.int64s.reset()
	d.float32.reset()
	d.float64.reset()
	d.bools.reset()
	d.strings.reset()
	d.bytes.reset()
	d.times.reset()
}

// Decode decodes a record of codec c's view. Strings in the record share
// rec's memory; bytes are copied. A record written for another schema of the
// view decodes as not found. Anything malformed is an error wrapping
// ErrCorrupt; Decode never panics, whatever rec holds.
func (d *Decoder) Decode(c *Codec, rec string) (Record, error) {
	found, eventTime, r, err := c.header(rec)
	if !found || err != nil {
		return Record{}, err
	}
	n := len(c.types)
	bitmap := rec[headerSize:r.off]
	out := Record{Found: true, EventTime: eventTime, Values: d.ptrs.take(n)}
	values := d.values.take(n)
	var (
		int32s  = d.int32s.take(c.counts[kindInt32])
		int64s  = d.int64s.take(c.counts[kindInt64])
		float32 = d.float32.take(c.counts[kindFloat32])
		float64 = d.float64.take(c.counts[kindFloat64])
		bools   = d.bools.take(c.counts[kindBool])
		strings = d.strings.take(c.counts[kindString])
		bytes   = d.bytes.take(c.counts[kindBytes])
		times   = d.times.take(c.counts[kindTimestamp])
	)
	for i, t := range c.types {
		if null(bitmap, i) {
			continue
		}
		v := &values[i]
		switch {
		case t.List:
			r.list(v, t.Elem)
		case t.Elem == registry.Int32:
			int32s[0].Int32Val, v.Val, int32s = r.int32(), &int32s[0], int32s[1:]
		case t.Elem == registry.Int64:
			int64s[0].Int64Val, v.Val, int64s = r.varint(), &int64s[0], int64s[1:]
		case t.Elem == registry.Timestamp:
			times[0].UnixTimestampVal, v.Val, times = r.varint(), &times[0], times[1:]
		case t.Elem == registry.Float32:
			float32[0].FloatVal, v.Val, float32 = r.f32(), &float32[0], float32[1:]
		case t.Elem == registry.Float64:
			float64[0].DoubleVal, v.Val, float64 = r.f64(), &float64[0], float64[1:]
		case t.Elem == registry.Bool:
			bools[0].BoolVal, v.Val, bools = r.bool(), &bools[0], bools[1:]
		case t.Elem == registry.String:
			strings[0].StringVal, v.Val, strings = r.string(), &strings[0], strings[1:]
		case t.Elem == registry.Bytes:
			bytes[0].BytesVal, v.Val, bytes = r.bytes(), &bytes[0], bytes[1:]
		default:
			r.fail(fmt.Errorf("the view declares type %s, which has no encoding", t))
		}
		if r.err != nil {
			return Record{}, fmt.Errorf("%w: feature %q (%s) at byte %d: %v", ErrCorrupt, c.names[i], t, r.off, r.err)
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
	n := len(c.types)
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

// list reads a list of elem into v.
func (r *reader) list(v *almanacv1.Value, elem registry.Scalar) {
	switch elem {
	case registry.Int32:
		vals := make([]int32, r.count(1))
		for i := range vals {
			vals[i] = r.int32()
		}
		v.Val = &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: vals}}
	case registry.Int64:
		v.Val = &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: r.varints()}}
	case registry.Timestamp:
		v.Val = &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: r.varints()}}
	case registry.Float32:
		vals := make([]float32, r.count(4))
		for i := range vals {
			vals[i] = r.f32()
		}
		v.Val = &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: vals}}
	case registry.Float64:
		vals := make([]float64, r.count(8))
		for i := range vals {
			vals[i] = r.f64()
		}
		v.Val = &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: vals}}
	case registry.Bool:
		vals := make([]bool, r.count(1))
		for i := range vals {
			vals[i] = r.bool()
		}
		v.Val = &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: vals}}
	case registry.String:
		vals := make([]string, r.count(1))
		for i := range vals {
			vals[i] = r.string()
		}
		v.Val = &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: vals}}
	case registry.Bytes:
		vals := make([][]byte, r.count(1))
		for i := range vals {
			vals[i] = r.bytes()
		}
		v.Val = &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: vals}}
	default:
		r.fail(fmt.Errorf("the view declares type %s, which has no encoding", registry.ListOf(elem)))
	}
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

func (r *reader) varints() []int64 {
	vals := make([]int64, r.count(1))
	for i := range vals {
		vals[i] = r.varint()
	}
	return vals
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

func (r *reader) f32() float32 {
	s := r.fixed(4)
	if len(s) < 4 {
		return 0
	}
	return math.Float32frombits(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

func (r *reader) f64() float64 {
	s := r.fixed(8)
	if len(s) < 8 {
		return 0
	}
	return math.Float64frombits(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
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
