package values

import (
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// An Arena allocates values in blocks that the values it hands out share,
// so that making many values costs few allocations. A block stays in memory
// while any value in it is referenced. The zero Arena is ready to use. It is
// not safe for concurrent use.
//
// An Arena that has been Reset keeps the blocks it allocates afterwards and
// hands them out again after the next Reset, so that a caller making one
// batch of values after another, done with each before the next, makes them
// without allocating once its blocks cover a batch.
type Arena struct {
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

// Counts is how many scalars of each type a batch holds, indexed by
// registry.Scalar.
type Counts [registry.Timestamp + 1]int

// A Batch hands out the scalars of one batch of values, taken together
// from an Arena.
type Batch struct {
	int32s  []almanacv1.Value_Int32Val
	int64s  []almanacv1.Value_Int64Val
	float32 []almanacv1.Value_FloatVal
	float64 []almanacv1.Value_DoubleVal
	bools   []almanacv1.Value_BoolVal
	strings []almanacv1.Value_StringVal
	bytes   []almanacv1.Value_BytesVal
	times   []almanacv1.Value_UnixTimestampVal
}

// Take returns n values, zero, and n pointers to set to them, and a Batch
// with room for the scalars counts says of each type.
func (a *Arena) Take(n int, counts *Counts) (ptrs []*almanacv1.Value, vals []almanacv1.Value, b Batch) {
	return a.ptrs.take(n), a.values.take(n), Batch{
		int32s:  a.int32s.take(counts[registry.Int32]),
		int64s:  a.int64s.take(counts[registry.Int64]),
		float32: a.float32.take(counts[registry.Float32]),
		float64: a.float64.take(counts[registry.Float64]),
		bools:   a.bools.take(counts[registry.Bool]),
		strings: a.strings.take(counts[registry.String]),
		bytes:   a.bytes.take(counts[registry.Bytes]),
		times:   a.times.take(counts[registry.Timestamp]),
	}
}

// The setters of a Batch set a value to a scalar, taking its wrapper from
// the batch, which must have room for it: one setter per Rep, with Int64
// setting a timestamp when millis is set.

// Int32 sets v to an int32.
func (b *Batch) Int32(v *almanacv1.Value, x int32) {
	b.int32s[0].Int32Val, v.Val, b.int32s = x, &b.int32s[0], b.int32s[1:]
}

// Int64 sets v to an int64, or to a timestamp of x ms when millis is set.
func (b *Batch) Int64(v *almanacv1.Value, millis bool, x int64) {
	if millis {
		b.times[0].UnixTimestampVal, v.Val, b.times = x, &b.times[0], b.times[1:]
		return
	}
	b.int64s[0].Int64Val, v.Val, b.int64s = x, &b.int64s[0], b.int64s[1:]
}

// Float32 sets v to a float32.
func (b *Batch) Float32(v *almanacv1.Value, x float32) {
	b.float32[0].FloatVal, v.Val, b.float32 = x, &b.float32[0], b.float32[1:]
}

// Float64 sets v to a float64.
func (b *Batch) Float64(v *almanacv1.Value, x float64) {
	b.float64[0].DoubleVal, v.Val, b.float64 = x, &b.float64[0], b.float64[1:]
}

// Bool sets v to a bool.
func (b *Batch) Bool(v *almanacv1.Value, x bool) {
	b.bools[0].BoolVal, v.Val, b.bools = x, &b.bools[0], b.bools[1:]
}

// String sets v to a string.
func (b *Batch) String(v *almanacv1.Value, x string) {
	b.strings[0].StringVal, v.Val, b.strings = x, &b.strings[0], b.strings[1:]
}

// Bytes sets v to bytes.
func (b *Batch) Bytes(v *almanacv1.Value, x []byte) {
	b.bytes[0].BytesVal, v.Val, b.bytes = x, &b.bytes[0], b.bytes[1:]
}

// Reset lets the Arena hand out again the memory of the values it made
// since the last Reset (see Arena): those values must not be used
// afterwards.
func (a *Arena) Reset() {
	a.ptrs.reset()
	a.values.reset()
	a.int32s.reset()
	a.int64s.reset()
	a.float32.reset()
	a.float64.reset()
	a.bools.reset()
	a.strings.reset()
	a.bytes.reset()
	a.times.reset()
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
