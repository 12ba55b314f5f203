package online

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Record encoding, version 1. Backends store one encoded record per (entity,
// view). The values carry no type tags: the view's feature types say how to
// read them. Every version keeps the 13-byte header below in place, so a
// backend (and the Redis write script) can apply the newer-wins rule by
// comparing headers, without decoding values:
//
//	offset  size   field
//	0       1      version, 1
//	1       4      schema: FNV-1a hash of the view's feature names and types
//	5       8      event time in ms since the Unix epoch, big-endian, with the
//	               sign bit flipped so that comparing the bytes compares the times
//	13      ⌈n/8⌉  null bitmap for n features: bit i%8 of byte i/8 is set when
//	               feature i is null
//	...            the values of the non-null features, in feature order:
//	                 int32, int64, timestamp  zigzag varint (timestamp: ms)
//	                 float32, float64         4 or 8 bytes, little-endian IEEE 754
//	                 bool                     1 byte, 0 or 1
//	                 string, bytes            uvarint length, then the bytes
//	                 list<T>                  uvarint count, then each element as above
//
// A record of ten float64 features takes 13 + 2 + 80 = 95 bytes.
//
// The schema hash ties a record to the features its view had when it was
// written. A record whose schema differs from its view's current one (features
// added, removed, renamed, retyped or reordered since) decodes as not found
// rather than as values of the wrong features, and any write replaces it,
// whatever its event time.
const (
	recordVersion = 1
	// schemaEnd is where the schema hash ends and the event time begins.
	schemaEnd = 5
	// headerSize is the size of the fixed header.
	headerSize = 13
	// signBit flips the sign of an event time so that its big-endian bytes
	// sort as the times do.
	signBit = 1 << 63
)

// Codec encodes and decodes the records of one view. It is immutable and safe
// for concurrent use.
type Codec struct {
	view   string
	names  []string
	types  []registry.Type
	schema [4]byte
	// counts is how many features of each kind the view has, to allocate
	// decoded values in one block per kind.
	counts [numKinds]int
}

// NewCodec returns the codec of view v. It keeps no reference to v.
func NewCodec(v *View) *Codec {
	c := &Codec{
		view:  v.Name,
		names: make([]string, len(v.Features)),
		types: make([]registry.Type, len(v.Features)),
	}
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	mix := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * prime32
		}
		h *= prime32 // a zero byte ends each part
	}
	for i, f := range v.Features {
		c.names[i] = f.Name
		c.types[i] = f.Type
		c.counts[kindOf(f.Type)]++
		mix(f.Name)
		mix(f.Type.String())
	}
	binary.BigEndian.PutUint32(c.schema[:], h)
	return c
}

// AppendRecord appends the encoding of one row, its event time and one value
// per feature (nil or an unset Value is null), to dst. Event times are kept
// to the millisecond. A value that does not match its feature's type, a wrong
// number of values or a zero event time is an error wrapping ErrInvalid,
// saying which view and feature; dst is then returned unchanged.
func (c *Codec) AppendRecord(dst []byte, eventTime time.Time, values []*almanacv1.Value) ([]byte, error) {
	return appendRecord(c, dst, eventTime, values, func(v *almanacv1.Value) bool { return v.GetVal() == nil }, appendValue)
}

// AppendRecordGo is AppendRecord for values as Go values (nil is null), the
// way a database/sql driver gives them: values of exactly the feature's Go
// type (float64 for float64, int64 for int64, string, bool) are encoded
// directly, any other is converted as values.FromGo converts it, losing
// nothing or failing. It spares the *almanacv1.Value of every value when a
// pipeline writes many rows.
func (c *Codec) AppendRecordGo(dst []byte, eventTime time.Time, vals []driver.Value) ([]byte, error) {
	return appendRecord(c, dst, eventTime, vals, func(x driver.Value) bool { return x == nil }, appendGo)
}

// appendRecord appends the record of values, null or appended by
// appendOne, the way AppendRecord documents.
func appendRecord[T any](c *Codec, dst []byte, eventTime time.Time, values []T, null func(T) bool, appendOne func([]byte, registry.Type, T) ([]byte, error)) ([]byte, error) {
	if len(values) != len(c.types) {
		return dst, fmt.Errorf("%w: view %q: %d values for %d features", ErrInvalid, c.view, len(values), len(c.types))
	}
	if eventTime.IsZero() {
		return dst, fmt.Errorf("%w: view %q: the event time is not set", ErrInvalid, c.view)
	}
	start := len(dst)
	dst = append(dst, recordVersion)
	dst = append(dst, c.schema[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(eventTime.UnixMilli())^signBit)
	bitmap := len(dst)
	for range (len(values) + 7) / 8 {
		dst = append(dst, 0)
	}
	for i, v := range values {
		if null(v) {
			dst[bitmap+i/8] |= 1 << (i % 8)
			continue
		}
		var err error
		if dst, err = appendOne(dst, c.types[i], v); err != nil {
			return dst[:start], fmt.Errorf("%w: view %q, feature %q: %v", ErrInvalid, c.view, c.names[i], err)
		}
	}
	return dst, nil
}

// appendGo appends the untagged encoding of x, not nil, as a value of type
// t: directly when x has t's usual Go type, else through values.FromGo.
func appendGo(dst []byte, t registry.Type, x driver.Value) ([]byte, error) {
	switch y := x.(type) {
	case float64:
		if t == registry.TypeFloat64 {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(y)), nil
		}
	case int64:
		if t == registry.TypeInt64 {
			return binary.AppendVarint(dst, y), nil
		}
	case string:
		if t == registry.TypeString && utf8.ValidString(y) {
			return appendString(dst, y), nil
		}
	case bool:
		if t == registry.TypeBool {
			return appendBool(dst, y), nil
		}
	}
	v, err := values.FromGo(x, t)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, t, v)
}

// Replaces reports whether the encoded record rec replaces the stored encoded
// record old by the newer-wins rule: old is missing (nil) or malformed, was
// written for another version or schema of the view, or has an event time
// no later than rec's. Of equal event times the record written last wins,
// as the tie rule wants (the later push, the winner of a materialization
// run again after its source changed); writing a row twice leaves it as it
// was.
func Replaces(rec, old []byte) bool {
	if len(old) < headerSize || string(old[:schemaEnd]) != string(rec[:schemaEnd]) {
		return true
	}
	return string(rec[schemaEnd:headerSize]) >= string(old[schemaEnd:headerSize])
}

// kind is the Go representation of a feature's values, for allocation.
type kind uint8

const (
	kindList kind = iota // any list: allocated one at a time
	kindInt32
	kindInt64
	kindFloat32
	kindFloat64
	kindBool
	kindString
	kindBytes
	kindTimestamp
	numKinds
)

func kindOf(t registry.Type) kind {
	if t.List || !t.Valid() {
		return kindList
	}
	return kind(t.Elem) // the scalar kinds follow registry.Scalar's order
}

// appendValue appends the untagged encoding of v, which is not null, as a
// value of type t.
func appendValue(dst []byte, t registry.Type, v *almanacv1.Value) ([]byte, error) {
	ok := false
	switch x := v.Val.(type) {
	case *almanacv1.Value_Int32Val:
		if ok = t == registry.TypeInt32; ok {
			dst = binary.AppendVarint(dst, int64(x.Int32Val))
		}
	case *almanacv1.Value_Int64Val:
		if ok = t == registry.TypeInt64; ok {
			dst = binary.AppendVarint(dst, x.Int64Val)
		}
	case *almanacv1.Value_UnixTimestampVal:
		if ok = t == registry.TypeTimestamp; ok {
			dst = binary.AppendVarint(dst, x.UnixTimestampVal)
		}
	case *almanacv1.Value_FloatVal:
		if ok = t == registry.TypeFloat32; ok {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x.FloatVal))
		}
	case *almanacv1.Value_DoubleVal:
		if ok = t == registry.TypeFloat64; ok {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x.DoubleVal))
		}
	case *almanacv1.Value_BoolVal:
		if ok = t == registry.TypeBool; ok {
			dst = appendBool(dst, x.BoolVal)
		}
	case *almanacv1.Value_StringVal:
		if ok = t == registry.TypeString; ok {
			if !utf8.ValidString(x.StringVal) {
				return dst, fmt.Errorf("string is not valid UTF-8")
			}
			dst = appendString(dst, x.StringVal)
		}
	case *almanacv1.Value_BytesVal:
		if ok = t == registry.TypeBytes; ok {
			dst = appendString(dst, x.BytesVal)
		}
	case *almanacv1.Value_Int32ListVal:
		if ok = t == registry.ListOf(registry.Int32); ok {
			vals := x.Int32ListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for _, e := range vals {
				dst = binary.AppendVarint(dst, int64(e))
			}
		}
	case *almanacv1.Value_Int64ListVal:
		if ok = t == registry.ListOf(registry.Int64); ok {
			dst = appendVarints(dst, x.Int64ListVal.GetVal())
		}
	case *almanacv1.Value_UnixTimestampListVal:
		if ok = t == registry.ListOf(registry.Timestamp); ok {
			dst = appendVarints(dst, x.UnixTimestampListVal.GetVal())
		}
	case *almanacv1.Value_FloatListVal:
		if ok = t == registry.ListOf(registry.Float32); ok {
			vals := x.FloatListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for _, e := range vals {
				dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(e))
			}
		}
	case *almanacv1.Value_DoubleListVal:
		if ok = t == registry.ListOf(registry.Float64); ok {
			vals := x.DoubleListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for _, e := range vals {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e))
			}
		}
	case *almanacv1.Value_BoolListVal:
		if ok = t == registry.ListOf(registry.Bool); ok {
			vals := x.BoolListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for _, e := range vals {
				dst = appendBool(dst, e)
			}
		}
	case *almanacv1.Value_StringListVal:
		if ok = t == registry.ListOf(registry.String); ok {
			vals := x.StringListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for j, e := range vals {
				if !utf8.ValidString(e) {
					return dst, fmt.Errorf("element %d: string is not valid UTF-8", j)
				}
				dst = appendString(dst, e)
			}
		}
	case *almanacv1.Value_BytesListVal:
		if ok = t == registry.ListOf(registry.Bytes); ok {
			vals := x.BytesListVal.GetVal()
			dst = binary.AppendUvarint(dst, uint64(len(vals)))
			for _, e := range vals {
				dst = appendString(dst, e)
			}
		}
	}
	if !ok {
		return dst, fmt.Errorf("value is %s, want %s", values.Describe(v), t)
	}
	return dst, nil
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendVarints(dst []byte, vals []int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, e := range vals {
		dst = binary.AppendVarint(dst, e)
	}
	return dst
}

// AppendEntityKey appends the canonical encoding of an entity's join key
// values, in the order of the view's join keys, to dst. Each value is a tag
// (i for an integer of either width, s for a string, b for bytes), the
// payload's length in decimal, ':' and the payload, an integer in decimal:
// driver 1001 is "i4:1001", the composite key (1001, "nyc") is
// "i4:1001s3:nyc". An int32 and an int64 of the same number encode the same.
// A null, list, float, bool or timestamp key value is an error wrapping
// ErrInvalid; dst is then returned unchanged.
func AppendEntityKey(dst []byte, key []*almanacv1.Value) ([]byte, error) {
	start := len(dst)
	for i, v := range key {
		var num [20]byte
		switch x := v.GetVal().(type) {
		case *almanacv1.Value_Int64Val:
			dst = appendKeyPart(dst, 'i', strconv.AppendInt(num[:0], x.Int64Val, 10))
		case *almanacv1.Value_Int32Val:
			dst = appendKeyPart(dst, 'i', strconv.AppendInt(num[:0], int64(x.Int32Val), 10))
		case *almanacv1.Value_StringVal:
			dst = appendKeyPart(dst, 's', x.StringVal)
		case *almanacv1.Value_BytesVal:
			dst = appendKeyPart(dst, 'b', x.BytesVal)
		case nil:
			return dst[:start], fmt.Errorf("%w: join key %d is null", ErrInvalid, i)
		default:
			return dst[:start], fmt.Errorf("%w: join key %d is %s, want int32, int64, string or bytes", ErrInvalid, i, values.Describe(v))
		}
	}
	return dst, nil
}

func appendKeyPart[T string | []byte](dst []byte, tag byte, payload T) []byte {
	dst = append(dst, tag)
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ':')
	return append(dst, payload...)
}

// AppendStoreKey appends the key under which backends store an entity's
// record in a view to dst: prefix, '{', the entity key (AppendEntityKey), '}',
// ':' and the view's name, such as "almanac:rides:{i4:1001}:driver_stats".
// In Redis the braces make the entity key the hash tag, so every view of one
// entity sits in one Cluster slot.
func AppendStoreKey(dst []byte, prefix, view string, key []*almanacv1.Value) ([]byte, error) {
	start := len(dst)
	dst = append(dst, prefix...)
	dst = append(dst, '{')
	dst, err := AppendEntityKey(dst, key)
	if err != nil {
		return dst[:start], err
	}
	dst = append(dst, '}', ':')
	return append(dst, view...), nil
}
