package values

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// AppendValue appends the untagged encoding of v, which is not null, as a
// value of kind k, or a list of them when list is set, in the encoding of
// its Rep (the Rep constants say it; online records and window tiles use
// it). A value of another type, or a string that is not valid UTF-8, is an
// error; k nil (a type without an encoding) is one for every value.
func AppendValue(dst []byte, k *Kind, list bool, v *almanacv1.Value) ([]byte, error) {
	var rep Rep
	var millis bool
	var want registry.Type
	if k != nil {
		rep, millis, want = k.Rep, k.Millis, registry.Type{Elem: k.Scalar, List: list}
	}
	ok := false
	switch {
	case list:
		if ok = k != nil && TypeOf(v) == want; ok {
			return appendList(dst, rep, v)
		}
	case rep == RepInt32:
		var x int32
		if x, ok = Int32Of(v); ok {
			dst = binary.AppendVarint(dst, int64(x))
		}
	case rep == RepInt64:
		var x int64
		if x, ok = Int64Of(v, millis); ok {
			dst = binary.AppendVarint(dst, x)
		}
	case rep == RepFloat32:
		var x float32
		if x, ok = Float32Of(v); ok {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	case rep == RepFloat64:
		var x float64
		if x, ok = Float64Of(v); ok {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
		}
	case rep == RepBool:
		var x bool
		if x, ok = BoolOf(v); ok {
			dst = AppendBool(dst, x)
		}
	case rep == RepString:
		var x string
		if x, ok = StringOf(v); ok {
			if !utf8.ValidString(x) {
				return dst, fmt.Errorf("string is not valid UTF-8")
			}
			dst = AppendString(dst, x)
		}
	case rep == RepBytes:
		var x []byte
		if x, ok = BytesOf(v); ok {
			dst = AppendString(dst, x)
		}
	}
	if !ok {
		if k == nil {
			return dst, fmt.Errorf("value is %s, and its type has no encoding", Describe(v))
		}
		return dst, fmt.Errorf("value is %s, want %s", Describe(v), want)
	}
	return dst, nil
}

// appendList appends the encoding of v, a list of elements of
// representation rep: their count, then each element.
func appendList(dst []byte, rep Rep, v *almanacv1.Value) ([]byte, error) {
	switch rep {
	case RepInt32:
		l := Int32s(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = binary.AppendVarint(dst, int64(e))
		}
	case RepInt64:
		l := Int64s(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = binary.AppendVarint(dst, e)
		}
	case RepFloat32:
		l := Float32s(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(e))
		}
	case RepFloat64:
		l := Float64s(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e))
		}
	case RepBool:
		l := Bools(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = AppendBool(dst, e)
		}
	case RepString:
		l := Strings(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for j, e := range l {
			if !utf8.ValidString(e) {
				return dst, fmt.Errorf("element %d: string is not valid UTF-8", j)
			}
			dst = AppendString(dst, e)
		}
	case RepBytes:
		l := ByteStrings(v)
		dst = binary.AppendUvarint(dst, uint64(len(l)))
		for _, e := range l {
			dst = AppendString(dst, e)
		}
	}
	return dst, nil
}

// AppendBool appends the encoding of a bool: 1 byte, 0 or 1.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendString appends the encoding of a string or bytes: a uvarint
// length, then the bytes.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// A Reader reads what AppendValue and the binary package's varint
// functions write from a string, at an offset. Its first error sticks, and
// every read after it returns a zero value; no read panics, whatever the
// string holds.
type Reader struct {
	s   string
	off int
	err error
}

// NewReader returns a Reader of s at offset off.
func NewReader(s string, off int) Reader { return Reader{s: s, off: off} }

// Off returns the offset of the next read.
func (r *Reader) Off() int { return r.off }

// Left returns how many bytes are left to read.
func (r *Reader) Left() int { return len(r.s) - r.off }

// Err returns the first error of a read, or given to Fail.
func (r *Reader) Err() error { return r.err }

// Fail makes err the Reader's error, unless it has one.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Value reads a value of kind k, or a list of them when list is set, into
// a new Value.
func (r *Reader) Value(k *Kind, list bool) *almanacv1.Value {
	v := &almanacv1.Value{}
	if k == nil {
		r.Fail(fmt.Errorf("a value of a type without an encoding"))
		return v
	}
	if list {
		r.List(v, k)
		return v
	}
	var p Payload
	switch k.Rep {
	case RepInt32:
		p.N = uint64(r.Int32())
	case RepInt64:
		p.N = uint64(r.Varint())
	case RepFloat32:
		p.N = uint64(r.Bits32())
	case RepFloat64:
		p.N = r.Bits64()
	case RepBool:
		if r.Bool() {
			p.N = 1
		}
	case RepString:
		p.S = r.Text()
	case RepBytes:
		v.Val = &almanacv1.Value_BytesVal{BytesVal: r.Bytes()}
		return v
	}
	Set(v, k.Scalar, p)
	return v
}

// List reads a list of elements of kind k into v.
func (r *Reader) List(v *almanacv1.Value, k *Kind) {
	n := r.Count(k.Rep.MinSize())
	var l List
	switch k.Rep {
	case RepInt32:
		l.Int32s = readAll(n, r.Int32)
	case RepInt64:
		l.Int64s = readAll(n, r.Varint)
	case RepFloat32:
		l.Float32s = readAll(n, func() float32 { return math.Float32frombits(r.Bits32()) })
	case RepFloat64:
		l.Float64s = readAll(n, func() float64 { return math.Float64frombits(r.Bits64()) })
	case RepBool:
		l.Bools = readAll(n, r.Bool)
	case RepString:
		l.Strings = readAll(n, r.Text)
	case RepBytes:
		l.Bytes = readAll(n, r.Bytes)
	}
	k.SetList(v, l)
}

// readAll returns n elements, each read by read.
func readAll[T any](n int, read func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = read()
	}
	return out
}

// Count reads a count of elements that take at least size bytes each,
// refusing any that the bytes left cannot hold.
func (r *Reader) Count(size int) int {
	n := r.Uvarint()
	if left := uint64(len(r.s) - r.off); n > left/uint64(size) {
		r.Fail(fmt.Errorf("list of %d elements in %d bytes", n, left))
		return 0
	}
	return int(n)
}

// Uvarint reads an unsigned varint, as binary.Uvarint does.
func (r *Reader) Uvarint() uint64 {
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
	r.Fail(fmt.Errorf("bad varint"))
	return 0
}

// Varint reads a zigzag varint, as binary.Varint does.
func (r *Reader) Varint() int64 {
	ux := r.Uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// Int32 reads a zigzag varint in int32's range.
func (r *Reader) Int32() int32 {
	x := r.Varint()
	if x < math.MinInt32 || x > math.MaxInt32 {
		r.Fail(fmt.Errorf("int32 out of range: %d", x))
		return 0
	}
	return int32(x)
}

// fixed returns the next n bytes.
func (r *Reader) fixed(n int) string {
	if r.err != nil {
		return ""
	}
	if len(r.s)-r.off < n {
		r.Fail(fmt.Errorf("%d bytes left, want %d", len(r.s)-r.off, n))
		return ""
	}
	s := r.s[r.off : r.off+n]
	r.off += n
	return s
}

// Bits32 reads the 4 little-endian bytes of a float32.
func (r *Reader) Bits32() uint32 {
	s := r.fixed(4)
	if len(s) < 4 {
		return 0
	}
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// Bits64 reads the 8 little-endian bytes of a float64.
func (r *Reader) Bits64() uint64 {
	s := r.fixed(8)
	if len(s) < 8 {
		return 0
	}
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Bool reads a bool's byte, 0 or 1.
func (r *Reader) Bool() bool {
	s := r.fixed(1)
	if s == "" {
		return false
	}
	if s[0] > 1 {
		r.Fail(fmt.Errorf("bool byte %d", s[0]))
		return false
	}
	return s[0] == 1
}

// Raw reads a string or bytes, unchecked, sharing the Reader's memory.
func (r *Reader) Raw() string {
	n := r.Uvarint()
	if left := uint64(len(r.s) - r.off); n > left {
		r.Fail(fmt.Errorf("%d bytes left, want %d", left, n))
		return ""
	}
	return r.fixed(int(n))
}

// Text reads a string, which shares the Reader's memory; one that is not
// valid UTF-8 is an error.
func (r *Reader) Text() string {
	s := r.Raw()
	if !utf8.ValidString(s) {
		r.Fail(fmt.Errorf("string is not valid UTF-8"))
		return ""
	}
	return s
}

// Bytes reads bytes, copied.
func (r *Reader) Bytes() []byte {
	return []byte(r.Raw())
}
