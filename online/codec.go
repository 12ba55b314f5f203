package online

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

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
	cols   []column
	schema [4]byte
	// counts is how many scalar features of each type the view has, to
	// allocate decoded values in one block per type.
	counts values.Counts
}

// column is what the codec knows of a feature's type, looked up once.
type column struct {
	t    registry.Type
	kind *values.Kind // nil for an invalid type, which has no encoding
	// rep and millis are kind's, 0 and false for an invalid type.
	rep    values.Rep
	millis bool
	// tag is the protobuf tag of a scalar feature's Value oneof field; the
	// fields of scalars are numbered below 16, so their tags take a byte.
	tag byte
}

// NewCodec returns the codec of view v. It keeps no reference to v.
func NewCodec(v *View) *Codec {
	c := &Codec{
		view:  v.Name,
		names: make([]string, len(v.Features)),
		cols:  make([]column, len(v.Features)),
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
		c.cols[i] = newColumn(f.Type)
		if k := c.cols[i].kind; k != nil && !f.Type.List {
			c.counts[f.Type.Elem]++
		}
		mix(f.Name)
		mix(f.Type.String())
	}
	binary.BigEndian.PutUint32(c.schema[:], h)
	return c
}

func newColumn(t registry.Type) column {
	k := values.KindOf(t.Elem)
	if k == nil {
		return column{t: t}
	}
	wire := protowire.VarintType
	switch k.Rep {
	case values.RepFloat32:
		wire = protowire.Fixed32Type
	case values.RepFloat64:
		wire = protowire.Fixed64Type
	case values.RepString, values.RepBytes:
		wire = protowire.BytesType
	}
	return column{t: t, kind: k, rep: k.Rep, millis: k.Millis, tag: byte(protowire.EncodeTag(k.Field, wire))}
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
func appendRecord[T any](c *Codec, dst []byte, eventTime time.Time, values []T, null func(T) bool, appendOne func([]byte, *column, T) ([]byte, error)) ([]byte, error) {
	if len(values) != len(c.cols) {
		return dst, fmt.Errorf("%w: view %q: %d values for %d features", ErrInvalid, c.view, len(values), len(c.cols))
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
		if dst, err = appendOne(dst, &c.cols[i], v); err != nil {
			return dst[:start], fmt.Errorf("%w: view %q, feature %q: %v", ErrInvalid, c.view, c.names[i], err)
		}
	}
	return dst, nil
}

// appendGo appends the untagged encoding of x, not nil, as a value of
// column col: directly when x has the usual Go type of col's
// representation, else through values.FromGo.
func appendGo(dst []byte, col *column, x driver.Value) ([]byte, error) {
	if !col.t.List {
		switch y := x.(type) {
		case float64:
			if col.rep == values.RepFloat64 {
				return binary.LittleEndian.AppendUint64(dst, math.Float64bits(y)), nil
			}
		case int64:
			if col.rep == values.RepInt64 && !col.millis {
				return binary.AppendVarint(dst, y), nil
			}
		case string:
			if col.rep == values.RepString && utf8.ValidString(y) {
				return values.AppendString(dst, y), nil
			}
		case bool:
			if col.rep == values.RepBool {
				return values.AppendBool(dst, y), nil
			}
		}
	}
	v, err := values.FromGo(x, col.t)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, col, v)
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

// appendValue appends the untagged encoding of v, which is not null, as a
// value of column col.
func appendValue(dst []byte, col *column, v *almanacv1.Value) ([]byte, error) {
	return values.AppendValue(dst, col.kind, col.t.List, v)
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
