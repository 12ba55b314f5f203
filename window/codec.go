package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"

	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Tile record encoding: an entity's Set for one view, as the online store
// holds it (one record per entity and view). The 13-byte header has the
// shape of a plain record's (online/codec.go), so a backend reads both the
// same way:
//
//	offset  size  field
//	0       1     version, 0x81: the high bit tells tile records from plain
//	              records, whose versions are small
//	1       4     schema: FNV-1a hash of what the encoding depends on: each
//	              aggregation's function, count of rows or not, n and type,
//	              and each series' aggregation and hop
//	5       8     First, in the place of a plain record's event time:
//	              ms since the Unix epoch, big-endian, sign bit flipped
//	13            uvarint Rows, then uvarint Last - First (0 without rows)
//	...           each series, in the order NewSet gives the features:
//	                uvarint number of tiles, then each tile:
//	                  start: the first as a varint of start/hop, the others
//	                  as a uvarint of (start - previous start)/hop, at least
//	                  1; none for the lifetime series, whose tile starts at 0
//	                  uvarint Count, then when Count > 0 the fields the
//	                  function uses (none for count):
//	                    sum         IntSum as a varint over integers, Sum as
//	                                a float64 over floats
//	                    mean        IntSum as a varint, then Sum as a float64
//	                    stddev      Mean, M2 as float64s
//	                    min, max    Value
//	                    last        Value, then its order
//	                    last_n      uvarint number of entries, each a value
//	                                then its order, newest first
//	...           uvarint number of push ids (Set.Pushes), each a uvarint
//	              length then its bytes, oldest first
//	...           uvarint number of pending rows (Set.Pending), each its
//	              event time as a varint, its order from that time, then
//	              for each aggregation but counts of rows its column's
//	              value: a byte 0 for a null, otherwise a byte 1 then
//	                count       nothing
//	                sum, mean,  the value as values.Number gives it: the
//	                stddev      integer as a varint, the float as a float64
//	                others      the value, as in their tiles
//
// Values are encoded as online records encode them (values.AppendValue;
// float64s as 8 little-endian bytes). An order is its time as a varint
// from the tile's start, a byte 1 when it has a created time then that as
// a varint from its time (0 and nothing when it has none), and Seq as a
// varint.
//
// A record written for other aggregations or hops reads as none: its
// schema differs. A record for a view of 3 aggregations (count, float sum,
// mean) over 1h of 5m hops and 1d and 7d of 1h hops, trimmed, takes about
// 23 bytes per hour of the 7 days with events.
const (
	setVersion = 0x81
	// setTime is where First begins in the header.
	setTime = 5
	// setHeader is the size of the header.
	setHeader = 13
	// signBit flips the sign of a time so that its big-endian bytes sort as
	// the times do.
	signBit = 1 << 63
)

// ErrCorrupt is wrapped by the errors of DecodeSet for a record that is not
// a tile record, or is malformed.
var ErrCorrupt = errors.New("window: corrupt tile record")

// Codec encodes and decodes the tile records of one view. It is immutable
// and safe for concurrent use.
type Codec struct {
	aggs []Agg
	// kinds[i] is the kind of aggregation i's values (min, max, last and
	// last_n); nil for the others.
	kinds  []*values.Kind
	series []seriesKey // in the order of NewSet(features)
	schema [4]byte
}

// seriesKey names a series: its aggregation and hop.
type seriesKey struct {
	agg int
	hop int64
}

// NewCodec returns the codec of the tile records of a view whose
// aggregations are aggs and window features features (as Aggs and
// FeatureView.Windows give them). It keeps no reference to them.
func NewCodec(aggs []Agg, features []registry.WindowFeature) *Codec {
	c := &Codec{aggs: append([]Agg(nil), aggs...), kinds: make([]*values.Kind, len(aggs))}
	h := fnv.New32a()
	mix := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0}) // a zero byte ends each part
	}
	for i, a := range aggs {
		switch a.Function {
		case registry.AggMin, registry.AggMax, registry.AggLast, registry.AggLastN:
			c.kinds[i] = values.KindOf(a.Type.Elem)
		}
		mix(a.Function.String())
		mix(strconv.FormatBool(a.Rows))
		mix(strconv.Itoa(a.N))
		mix(a.Type.String())
	}
	for _, x := range NewSet(features).Series {
		c.series = append(c.series, seriesKey{agg: x.Aggregation, hop: x.Hop})
		mix(strconv.Itoa(x.Aggregation))
		mix(strconv.FormatInt(x.Hop, 10))
	}
	h.Sum(c.schema[:0])
	return c
}

// AppendSet appends the tile record of s, a Set of the codec's features, to
// dst. A series s has that the features do not use, tiles out of order or
// off their hop, or a value not of its aggregation's type is an error; dst
// is then returned unchanged.
func (c *Codec) AppendSet(dst []byte, s *Set) ([]byte, error) {
	start := len(dst)
	out, err := c.appendSet(dst, s)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (c *Codec) appendSet(dst []byte, s *Set) ([]byte, error) {
	for _, x := range s.Series {
		if c.index(x.Aggregation, x.Hop) < 0 {
			return dst, fmt.Errorf("encode tiles: the set has a series of aggregation %d at hop %dms, which no feature uses", x.Aggregation, x.Hop)
		}
	}
	first, last := int64(0), int64(0)
	if s.Rows > 0 {
		first, last = s.First, s.Last
	}
	if last < first {
		return dst, fmt.Errorf("encode tiles: the latest event time %dms is before the earliest %dms", last, first)
	}
	dst = append(dst, setVersion)
	dst = append(dst, c.schema[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(first)^signBit)
	dst = binary.AppendUvarint(dst, uint64(s.Rows))
	dst = binary.AppendUvarint(dst, uint64(last)-uint64(first))
	for _, key := range c.series {
		x := s.series(key.agg, key.hop)
		if x == nil {
			dst = append(dst, 0)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(x.Tiles)))
		for i := range x.Tiles {
			t := &x.Tiles[i]
			switch {
			case x.Hop == 0 && (t.Start != 0 || len(x.Tiles) > 1):
				return dst, fmt.Errorf("encode tiles: the lifetime series of aggregation %d has tiles other than one at 0", x.Aggregation)
			case x.Hop == 0:
			case t.Start%x.Hop != 0:
				return dst, fmt.Errorf("encode tiles: aggregation %d has a tile at %dms, off its %dms hops", x.Aggregation, t.Start, x.Hop)
			case i == 0:
				dst = binary.AppendVarint(dst, t.Start/x.Hop)
			case t.Start <= x.Tiles[i-1].Start:
				return dst, fmt.Errorf("encode tiles: the tiles of aggregation %d are out of order at %dms", x.Aggregation, t.Start)
			default:
				dst = binary.AppendUvarint(dst, uint64(t.Start-x.Tiles[i-1].Start)/uint64(x.Hop))
			}
			var err error
			if dst, err = c.appendPartial(dst, x.Aggregation, t); err != nil {
				return dst, fmt.Errorf("encode tiles: aggregation %d, tile at %dms: %w", x.Aggregation, t.Start, err)
			}
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Pushes)))
	for _, id := range s.Pushes {
		dst = values.AppendString(dst, id)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Pending)))
	for i := range s.Pending {
		var err error
		if dst, err = c.appendPending(dst, &s.Pending[i]); err != nil {
			return dst, fmt.Errorf("encode tiles: pending row %d: %w", i, err)
		}
	}
	return dst, nil
}

// appendPending appends the encoding of a pending row.
func (c *Codec) appendPending(dst []byte, r *Row) ([]byte, error) {
	dst = binary.AppendVarint(dst, r.At.Time)
	dst = appendOrder(dst, r.At.Time, r.At)
	for i, a := range c.aggs {
		v := pendingValue(r, i)
		if a.Rows {
			continue
		}
		if v.GetVal() == nil {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		switch a.Function {
		case registry.AggCount:
		case registry.AggSum, registry.AggMean, registry.AggStddev:
			n, f := values.Number(v)
			dst = binary.AppendVarint(dst, n)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
		default:
			var err error
			if dst, err = values.AppendValue(dst, c.kinds[i], a.Type.List && a.Function != registry.AggLastN, v); err != nil {
				return dst, fmt.Errorf("aggregation %d: %w", i, err)
			}
		}
	}
	return dst, nil
}

// index returns the place of series (agg, hop) in the record, -1 for none.
func (c *Codec) index(agg int, hop int64) int {
	for i, key := range c.series {
		if key == (seriesKey{agg, hop}) {
			return i
		}
	}
	return -1
}

// appendPartial appends the fields of t's partial that aggregation agg
// uses.
func (c *Codec) appendPartial(dst []byte, agg int, t *Tile) ([]byte, error) {
	p, a, k := &t.Partial, c.aggs[agg], c.kinds[agg]
	dst = binary.AppendUvarint(dst, uint64(p.Count))
	if p.Count <= 0 || a.Rows {
		return dst, nil
	}
	var err error
	switch a.Function {
	case registry.AggSum:
		if a.Type.Elem == registry.Float64 {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Sum)), nil
		}
		return binary.AppendVarint(dst, p.IntSum), nil
	case registry.AggMean:
		dst = binary.AppendVarint(dst, p.IntSum)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Sum)), nil
	case registry.AggStddev:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Mean))
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.M2)), nil
	case registry.AggMin, registry.AggMax:
		return values.AppendValue(dst, k, a.Type.List, p.Value)
	case registry.AggLast:
		if dst, err = values.AppendValue(dst, k, a.Type.List, p.Value); err != nil {
			return dst, err
		}
		return appendOrder(dst, t.Start, p.At), nil
	case registry.AggLastN:
		dst = binary.AppendUvarint(dst, uint64(len(p.Recent)))
		for _, e := range p.Recent {
			if dst, err = values.AppendValue(dst, k, false, e.Value); err != nil {
				return dst, err
			}
			dst = appendOrder(dst, t.Start, e.At)
		}
	}
	return dst, nil
}

// appendOrder appends the encoding of o, the order of a row in the tile
// starting at start. Differences wrap, as they do when read back.
func appendOrder(dst []byte, start int64, o Order) []byte {
	dst = binary.AppendVarint(dst, o.Time-start)
	if o.Created == NoCreated {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = binary.AppendVarint(dst, o.Created-o.Time)
	}
	return binary.AppendVarint(dst, o.Seq)
}

// DecodeSet decodes a tile record of the codec's view into s, reusing the
// memory of its tiles: a lookup decoding one record after another into
// one Set allocates only for the values of min, max, last and last_n once
// the tiles fit. A record written for other aggregations or hops reads as
// none: found is false, with no error. Anything else malformed, trailing
// bytes included, is an error wrapping ErrCorrupt; DecodeSet never panics,
// whatever rec holds. Unless found, s is left empty. Strings in the set
// share rec's memory; bytes are copied.
func (c *Codec) DecodeSet(s *Set, rec string) (found bool, err error) {
	found, err = c.decodeSet(s, rec)
	if !found || err != nil {
		*s = Set{Series: s.Series[:0]}
	}
	return found, err
}

func (c *Codec) decodeSet(s *Set, rec string) (bool, error) {
	if len(rec) < setHeader {
		return false, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(rec), setHeader)
	}
	if rec[0] != setVersion {
		return false, fmt.Errorf("%w: version %d, not a tile record's %d", ErrCorrupt, rec[0], setVersion)
	}
	if rec[1:setTime] != string(c.schema[:]) {
		return false, nil
	}
	r := values.NewReader(rec, setHeader)
	var first uint64
	for i := setTime; i < setHeader; i++ {
		first = first<<8 | uint64(rec[i])
	}
	s.First = int64(first ^ signBit)
	s.Rows = c.positive(&r, "rows")
	// Last - First wraps below First when Last would overflow.
	if s.Last = int64(uint64(s.First) + r.Uvarint()); s.Last < s.First {
		r.Fail(fmt.Errorf("latest event time out of range"))
	}
	s.Series = slices.Grow(s.Series[:0], len(c.series))[:len(c.series)]
	for i, key := range c.series {
		x := &s.Series[i]
		x.Aggregation, x.Hop = key.agg, key.hop
		n := r.Count(1)
		if key.hop == 0 && n > 1 {
			r.Fail(fmt.Errorf("%d lifetime tiles", n))
			n = 0
		}
		x.Tiles = slices.Grow(x.Tiles[:0], n)[:n]
		clear(x.Tiles)
		for j := range x.Tiles {
			if key.hop > 0 {
				x.Tiles[j].Start = c.start(&r, x, j)
			}
			c.readPartial(&r, s, key.agg, &x.Tiles[j])
			if err := r.Err(); err != nil {
				return false, fmt.Errorf("%w: aggregation %d at hop %dms, tile %d, at byte %d: %v", ErrCorrupt, key.agg, key.hop, j, r.Off(), err)
			}
		}
	}
	s.Pushes = s.Pushes[:0]
	for range r.Count(1) {
		s.Pushes = append(s.Pushes, r.Raw())
	}
	s.Pending = s.Pending[:0]
	for range r.Count(3) { // a time and an order take 3 bytes at least
		if err := c.readPending(&r, s); err != nil {
			return false, fmt.Errorf("%w: pending row %d, at byte %d: %v", ErrCorrupt, len(s.Pending), r.Off(), err)
		}
	}
	if err := r.Err(); err != nil {
		return false, fmt.Errorf("%w: at byte %d: %v", ErrCorrupt, r.Off(), err)
	}
	if r.Left() != 0 {
		return false, fmt.Errorf("%w: %d bytes left over after the last tile", ErrCorrupt, r.Left())
	}
	return true, nil
}

// positive reads a uvarint in int64's range.
func (c *Codec) positive(r *values.Reader, what string) int64 {
	n := r.Uvarint()
	if n > math.MaxInt64 {
		r.Fail(fmt.Errorf("%s %d out of range", what, n))
		return 0
	}
	return int64(n)
}

// start reads the start of tile j of x, whose earlier tiles are read.
func (c *Codec) start(r *values.Reader, x *Series, j int) int64 {
	hop := x.Hop
	if j == 0 {
		n := r.Varint()
		if n < math.MinInt64/hop || n > math.MaxInt64/hop {
			r.Fail(fmt.Errorf("tile start %d hops out of range", n))
			return 0
		}
		return n * hop
	}
	prev := x.Tiles[j-1].Start
	d := r.Uvarint()
	if d == 0 || d > uint64(math.MaxInt64-prev)/uint64(hop) {
		r.Fail(fmt.Errorf("tile start %d hops after the previous", d))
		return 0
	}
	return prev + int64(d)*hop
}

// readPartial reads the partial of tile t of aggregation agg in set s.
func (c *Codec) readPartial(r *values.Reader, s *Set, agg int, t *Tile) {
	p, a, k := &t.Partial, c.aggs[agg], c.kinds[agg]
	p.Count = c.positive(r, "count")
	if p.Count > s.Rows {
		r.Fail(fmt.Errorf("count %d above the set's %d rows", p.Count, s.Rows))
	}
	if p.Count == 0 || a.Rows {
		return
	}
	switch a.Function {
	case registry.AggSum:
		if a.Type.Elem == registry.Float64 {
			p.Sum = math.Float64frombits(r.Bits64())
		} else {
			p.IntSum = r.Varint()
		}
	case registry.AggMean:
		p.IntSum = r.Varint()
		p.Sum = math.Float64frombits(r.Bits64())
	case registry.AggStddev:
		p.Mean = math.Float64frombits(r.Bits64())
		p.M2 = math.Float64frombits(r.Bits64())
	case registry.AggMin, registry.AggMax:
		p.Value = r.Value(k, a.Type.List)
	case registry.AggLast:
		p.Value = r.Value(k, a.Type.List)
		p.At = readOrder(r, t.Start)
	case registry.AggLastN:
		n := r.Count(3) // a value and an order take 3 bytes at least
		if n == 0 || int64(n) > p.Count || n > a.N {
			r.Fail(fmt.Errorf("%d last_n entries for %d values, n %d", n, p.Count, a.N))
			return
		}
		p.Recent = make([]Entry, n) // not reused: a Partial's Recent may be shared
		for i := range p.Recent {
			p.Recent[i] = Entry{Value: r.Value(k, false), At: readOrder(r, t.Start)}
			if i > 0 && !p.Recent[i].At.Less(p.Recent[i-1].At) {
				r.Fail(fmt.Errorf("last_n entry %d is not older than the one before", i))
			}
		}
	}
}

// readPending reads a pending row into s.Pending.
func (c *Codec) readPending(r *values.Reader, s *Set) error {
	t := r.Varint()
	row := Row{At: readOrder(r, t), Values: make([]*almanacv1.Value, len(c.aggs))}
	for i, a := range c.aggs {
		if a.Rows {
			continue
		}
		switch r.Uvarint() {
		case 0:
			continue
		case 1:
		default:
			r.Fail(fmt.Errorf("aggregation %d: bad null flag", i))
		}
		switch a.Function {
		case registry.AggCount:
			row.Values[i] = values.Int64(1) // only whether it is null counts
		case registry.AggSum, registry.AggMean, registry.AggStddev:
			n, f := r.Varint(), math.Float64frombits(r.Bits64())
			if row.Values[i] = values.Int64(n); f != 0 {
				row.Values[i] = values.Float64(f)
			}
		default:
			row.Values[i] = r.Value(c.kinds[i], a.Type.List && a.Function != registry.AggLastN)
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	s.Pending = append(s.Pending, row)
	return nil
}

// readOrder reads an order in the tile starting at start.
func readOrder(r *values.Reader, start int64) Order {
	o := Order{Time: start + r.Varint(), Created: NoCreated}
	switch r.Uvarint() {
	case 0:
	case 1:
		o.Created = o.Time + r.Varint()
	default:
		r.Fail(fmt.Errorf("bad created flag"))
	}
	o.Seq = r.Varint()
	return o
}
