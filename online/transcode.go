package online

import (
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/almanac-fs/almanac/internal/protolen"
	"github.com/almanac-fs/almanac/internal/values"
)

// listVal is the field number of the val field of almanac.v1.Value's list
// messages.
const listVal protowire.Number = 1

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
	bitmap := rec[headerSize:r.Off()]
	start := len(dst)
	for i := range c.cols {
		if col := &c.cols[i]; !null(bitmap, i) {
			dst = transcode(&r, dst, col)
			if err := r.Err(); err != nil {
				return dst[:start], false, time.Time{}, fmt.Errorf("%w: feature %q (%s) at byte %d: %v", ErrCorrupt, c.names[i], col.t, r.Off(), err)
			}
		}
		ends[i] = len(dst)
	}
	if r.Left() != 0 {
		return dst[:start], false, time.Time{}, fmt.Errorf("%w: %d bytes left over after the last value", ErrCorrupt, r.Left())
	}
	return dst, true, eventTime, nil
}

// transcode reads a value of column col and appends it as the fields of a
// Value.
func transcode(r *values.Reader, dst []byte, col *column) []byte {
	if col.t.List {
		return transcodeList(r, dst, col)
	}
	switch col.rep {
	case values.RepInt32:
		return protowire.AppendVarint(append(dst, col.tag), uint64(r.Int32()))
	case values.RepInt64:
		return protowire.AppendVarint(append(dst, col.tag), uint64(r.Varint()))
	case values.RepFloat32:
		return protowire.AppendFixed32(append(dst, col.tag), r.Bits32())
	case values.RepFloat64:
		return protowire.AppendFixed64(append(dst, col.tag), r.Bits64())
	case values.RepBool:
		return protowire.AppendVarint(append(dst, col.tag), protowire.EncodeBool(r.Bool()))
	case values.RepString:
		return protowire.AppendString(append(dst, col.tag), r.Text())
	case values.RepBytes:
		return protowire.AppendString(append(dst, col.tag), r.Raw())
	}
	r.Fail(fmt.Errorf("the view declares type %s, which has no encoding", col.t))
	return dst
}

// transcodeList reads a list of column col and appends it as the list
// message field of a Value: repeated strings and bytes one field each,
// numbers and bools packed.
func transcodeList(r *values.Reader, dst []byte, col *column) []byte {
	if col.kind == nil {
		r.Fail(fmt.Errorf("the view declares type %s, which has no encoding", col.t))
		return dst
	}
	rep := col.rep
	dst, list := protolen.Open(dst, col.kind.ListField)
	n := r.Count(rep.MinSize())
	if rep == values.RepString || rep == values.RepBytes {
		for range n {
			s := r.Raw()
			if rep == values.RepString && !utf8.ValidString(s) {
				r.Fail(fmt.Errorf("string is not valid UTF-8"))
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
			switch rep {
			case values.RepInt32:
				dst = protowire.AppendVarint(dst, uint64(r.Int32()))
			case values.RepInt64:
				dst = protowire.AppendVarint(dst, uint64(r.Varint()))
			case values.RepFloat32:
				dst = protowire.AppendFixed32(dst, r.Bits32())
			case values.RepFloat64:
				dst = protowire.AppendFixed64(dst, r.Bits64())
			case values.RepBool:
				dst = protowire.AppendVarint(dst, protowire.EncodeBool(r.Bool()))
			}
		}
		dst = protolen.Close(dst, packed)
	}
	return protolen.Close(dst, list)
}
