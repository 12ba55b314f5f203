package online

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/almanac-fs/almanac/internal/values"
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
	bitmap := rec[headerSize:r.Off()]
	ptrs, vals, batch := d.arena.Take(n, &c.counts)
	out := Record{Found: true, EventTime: eventTime, Values: ptrs}
	for i := range c.cols {
		if null(bitmap, i) {
			continue
		}
		col, v := &c.cols[i], &vals[i]
		switch {
		case col.t.List && col.kind != nil:
			r.List(v, col.kind)
		case col.rep == values.RepInt32:
			batch.Int32(v, r.Int32())
		case col.rep == values.RepInt64:
			batch.Int64(v, col.millis, r.Varint())
		case col.rep == values.RepFloat32:
			batch.Float32(v, math.Float32frombits(r.Bits32()))
		case col.rep == values.RepFloat64:
			batch.Float64(v, math.Float64frombits(r.Bits64()))
		case col.rep == values.RepBool:
			batch.Bool(v, r.Bool())
		case col.rep == values.RepString:
			batch.String(v, r.Text())
		case col.rep == values.RepBytes:
			batch.Bytes(v, r.Bytes())
		default:
			r.Fail(fmt.Errorf("the view declares type %s, which has no encoding", col.t))
		}
		if err := r.Err(); err != nil {
			return Record{}, fmt.Errorf("%w: feature %q (%s) at byte %d: %v", ErrCorrupt, c.names[i], col.t, r.Off(), err)
		}
		out.Values[i] = v
	}
	if r.Left() != 0 {
		return Record{}, fmt.Errorf("%w: %d bytes left over after the last value", ErrCorrupt, r.Left())
	}
	return out, nil
}

// header checks the header and null bitmap of a record of codec c's view,
// and returns its event time and a Reader at its first value. A record
// written for another schema of the view is not found, with no error.
func (c *Codec) header(rec string) (found bool, eventTime time.Time, r values.Reader, err error) {
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
	return true, eventTime, values.NewReader(rec, bitmapEnd), nil
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

func be64(s string) uint64 {
	_ = s[7]
	return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
		uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
}
