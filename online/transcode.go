package online

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/almanac-fs/almanac/internal/protolen"
	"github.com/almanac-fs/almanac/registry"
)

// Field numbers of almanac.v1.Value (value.proto), and of the val field of
// its list messages.
const (
	valueBytes         protowire.Number = 1
	valueString        protowire.Number = 2
	valueInt32         protowire.Number = 3
	valueInt64         protowire.Number = 4
	valueDouble        protowire.Number = 5
	valueFloat         protowire.Number = 6
	valueBool          protowire.Number = 7
	valueTimestamp     protowire.Number = 8
	valueBytesList     protowire.Number = 11
	valueStringList    protowire.Number = 12
	valueInt32List     protowire.Number = 13
	valueInt64List     protowire.Number = 14
	valueDoubleList    protowire.Number = 15
	valueFloatList     protowire.Number = 16
	valueBoolList      protowire.Number = 17
	valueTimestampList protowire.Number = 18
	listVal            protowire.Number = 1
)

// Transcode turns an encoded record of the codec's view into protobuf wire
// form without decoding it into messages: for each feature i it appends to
// dst the fields of the feature's almanac.v1.Value message (none for null)
// and sets ends[i], which must have room for every feature, to where they
// end in dst. The bytes are what proto.Marshal makes of the values Decode
// returns. A record written for another schema of the view is not found, as
// with Decode. Transcode checks rec as Decode does: anything malformed is an
// error wrapping ErrCorrupt, and dst is then returned unchanged.
func (c *Codec) Transcode(dst []byte, rec string, ends []int) (out []byte, found bool, eventTime time.Time, err error) {
	found, eventTime, r, err := c.header(rec)
	if !found || err != nil {
		return dst, false, time.Time{}, err
	}
	bitmap := rec[headerSize:r.off]
	start := len(dst)
	for i, t := range c.types {
		if !null(bitmap, i) {
			dst = r.transcode(dst, t)
			if r.err != nil {
				return dst[:start], false, time.Time{}, fmt.Errorf("%w: feature %q (%s) at byte %d: %v", ErrCorrupt, c.names[i], t, r.off, r.err)
			}
		}
		ends[i] = len(dst)
	}
	if r.off != len(rec) {
		return dst[:start], false, time.Time{}, fmt.Errorf("%w: %d bytes left over after the last value", ErrCorrupt, len(rec)-r.off)
	}
	return dst, true, eventTime, nil
}

// transcode reads a value of type t and appends it as the fields of a Value.
func (r *reader) transcode(dst []byte, t registry.Type) []byte {
	if t.List {
		return r.transcodeList(dst, t.Elem)
	}
	switch t.Elem {
	case registry.Int32:
		dst = protowire.AppendTag(dst, valueInt32, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(r.int32()))
	case registry.Int64:
		dst = protowire.AppendTag(dst, valueInt64, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(r.varint()))
	case registry.Timestamp:
		dst = protowire.AppendTag(dst, valueTimestamp, protowire.VarintType)
		return protowire.AppendVarint(dst, uint64(r.varint()))
	case registry.Float32:
		dst = protowire.AppendTag(dst, valueFloat, protowire.Fixed32Type)
		return protowire.AppendFixed32(dst, math.Float32bits(r.f32()))
	case registry.Float64:
		dst = protowire.AppendTag(dst, valueDouble, protowire.Fixed64Type)
		return protowire.AppendFixed64(dst, math.Float64bits(r.f64()))
	case registry.Bool:
		dst = protowire.AppendTag(dst, valueBool, protowire.VarintType)
		return protowire.AppendVarint(dst, protowire.EncodeBool(r.bool()))
	case registry.String:
		dst = protowire.AppendTag(dst, valueString, protowire.BytesType)
		return protowire.AppendString(dst, r.string())
	case registry.Bytes:
		dst = protowire.AppendTag(dst, valueBytes, protowire.BytesType)
		return protowire.AppendString(dst, r.raw())
	}
	r.fail(fmt.Errorf("the view declares type %s, which has no encoding", t))
	return dst
}

// transcodeList reads a list of elem and appends it as the list message
// field of a Value: repeated strings and bytes one field each, numbers and
// bools packed.
func (r *reader) transcodeList(dst []byte, elem registry.Scalar) []byte {
	var num protowire.Number
	var size int // the least bytes an element takes in the record
	switch elem {
	case registry.Int32:
		num, size = valueInt32List, 1
	case registry.Int64:
		num, size = valueInt64List, 1
	case registry.Timestamp:
		num, size = valueTimestampList, 1
	case registry.Float32:
		num, size = valueFloatList, 4
	case registry.Float64:
		num, size = valueDoubleList, 8
	case registry.Bool:
		num, size = valueBoolList, 1
	case registry.String:
		num, size = valueStringList, 1
	case registry.Bytes:
		num, size = valueBytesList, 1
	default:
		r.fail(fmt.Errorf("the view declares type %s, which has no encoding", registry.ListOf(elem)))
		return dst
	}
	dst, list := protolen.Open(dst, num)
	n := r.count(size)
	if elem == registry.String || elem == registry.Bytes {
		for range n {
			var s string
			if elem == registry.String {
				s = r.string()
			} else {
				s = r.raw()
			}
			dst = protowire.AppendTag(dst, listVal, protowire.BytesType)
			dst = protowire.AppendString(dst, s)
		}
		return protolen.Close(dst, list)
	}
	if n > 0 {
		var packed int
		dst, packed = protolen.Open(dst, listVal)
		for range n {
			switch elem {
			case registry.Int32:
				dst = protowire.AppendVarint(dst, uint64(r.int32()))
			case registry.Int64, registry.Timestamp:
				dst = protowire.AppendVarint(dst, uint64(r.varint()))
			case registry.Float32:
				dst = protowire.AppendFixed32(dst, math.Float32bits(r.f32()))
			case registry.Float64:
				dst = protowire.AppendFixed64(dst, math.Float64bits(r.f64()))
			case registry.Bool:
				dst = protowire.AppendVarint(dst, protowire.EncodeBool(r.bool()))
			}
		}
		dst = protolen.Close(dst, packed)
	}
	return protolen.Close(dst, list)
}
