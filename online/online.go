package online

import (
	"context"
	"errors"
	"fmt"
	"time"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// View is what the online store needs to know of a feature view. A View
// made by ViewOf keeps the codec of its features, so it must not be changed
// afterwards.
type View struct {
	Name     string
	Features []registry.Field // the order of Row.Values and Record.Values
	TTL      time.Duration    // 0: values never expire
	// StaleRetention is how long a record older than TTL is kept, read as
	// OUTSIDE_MAX_AGE, before the store removes it.
	StaleRetention time.Duration

	codec *Codec // built once by ViewOf, so lookups need not build it
}

// ViewOf returns the online-store view of a feature view definition, with
// its codec built.
func ViewOf(v *registry.FeatureView) View {
	view := View{Name: v.Name, Features: v.Features, TTL: v.TTL, StaleRetention: v.StaleRetention}
	view.codec = NewCodec(&view)
	return view
}

// CodecOf returns the codec of v: the one ViewOf built, or a new one.
func CodecOf(v *View) *Codec {
	if v.codec != nil {
		return v.codec
	}
	return NewCodec(v)
}

// Row is the values of one entity in one view at one event time.
type Row struct {
	Key       []*almanacv1.Value // join key values, in the view's join key order
	EventTime time.Time          // to the millisecond
	Values    []*almanacv1.Value // one per feature of the view; nil is null
}

// EncodedRow is a row whose event time and values are already encoded, by
// its view's Codec (AppendRecord or AppendRecordGo).
type EncodedRow struct {
	Key    []*almanacv1.Value // join key values, in the view's join key order
	Record []byte
}

// EncodeRows encodes rows of view, checking every one; a row that does not
// match the view is an error wrapping ErrInvalid.
func EncodeRows(view *View, rows []Row) ([]EncodedRow, error) {
	c := CodecOf(view)
	out := make([]EncodedRow, len(rows))
	var buf []byte
	for i, row := range rows {
		start := len(buf)
		var err error
		if buf, err = c.AppendRecord(buf, row.EventTime, row.Values); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		// Capped, so that later appends never write into it; when buf
		// grows, the record stays in the old array.
		out[i] = EncodedRow{Key: row.Key, Record: buf[start:len(buf):len(buf)]}
	}
	return out, nil
}

// Expiry returns when a record of v with event time eventTime is removed,
// in ms since the Unix epoch (0: never), and whether it already is at now:
// TTL and then StaleRetention after its event time. Until then the record
// stays stored, and Status says OUTSIDE_MAX_AGE once it is older than TTL;
// a store removes it once its clock is past that time, and does not store
// it at all if it is already.
func (v *View) Expiry(eventTime, now time.Time) (expireAt int64, expired bool) {
	if v.TTL <= 0 {
		return 0, false
	}
	keep := v.TTL + v.StaleRetention
	eventTime = eventTime.Truncate(time.Millisecond)
	return eventTime.Add(keep + time.Millisecond - 1).UnixMilli(), now.Sub(eventTime) > keep
}

// Lookup asks for one entity of one view.
type Lookup struct {
	View *View
	Key  []*almanacv1.Value
}

// Record is what the store holds for one entity of one view. A record not
// found has no values and a zero event time.
type Record struct {
	Found     bool
	EventTime time.Time
	Values    []*almanacv1.Value // one per feature of the view; nil is null
}

// Store is an online store. Implementations are safe for concurrent use.
//
// Newer wins: a row replaces the stored record of its entity only when its
// event time is not earlier than the stored one's, whatever the order or
// concurrency of writes. Of rows with equal event times the last written
// wins, within a Write too (see Replaces): callers write such rows in the
// order of the tie rule, so that the online store serves the row training
// sets take. Writing the same rows again leaves the store as it was.
// Records older than their view's TTL stay stored for its StaleRetention
// (Status says OUTSIDE_MAX_AGE), are then removed by the store in time
// (they may still be read until then; Status decides), and rows already
// past both when written are not stored (see View.Expiry).
type Store interface {
	// Write stores rows of view. It checks every row before storing any: a
	// row that does not match the view is an error wrapping ErrInvalid, and
	// nothing is written. A Write that fails later may have stored some of
	// its rows; by the newer-wins rule, writing them all again is safe. The
	// store does not keep references to rows.
	Write(ctx context.Context, view View, rows []Row) error
	// Read returns one record per lookup, in order, in one round trip to
	// the backend. The caller owns the returned records.
	Read(ctx context.Context, lookups []Lookup) ([]Record, error)
	// Close releases the store. Calls after it, Close included, return
	// ErrClosed.
	Close() error
}

// EncodedWriter is implemented by stores that take rows already encoded,
// for writers that encode rows straight from their source (materialization;
// see Codec.AppendRecordGo).
type EncodedWriter interface {
	// WriteEncoded is Write for encoded rows. A record that is not one of
	// the view's (Codec.EventTime) is an error wrapping ErrInvalid, and
	// nothing is written. The store does not keep references to
	// rows or their records once it returns, so callers may reuse them.
	WriteEncoded(ctx context.Context, view View, rows []EncodedRow) error
}

// WriteRows encodes rows of view and writes them with w.WriteEncoded: the
// Write of a store that writes encoded rows.
func WriteRows(ctx context.Context, w EncodedWriter, view View, rows []Row) error {
	encoded, err := EncodeRows(&view, rows)
	if err != nil {
		return fmt.Errorf("write view %q: %w", view.Name, err)
	}
	return w.WriteEncoded(ctx, view, encoded)
}

// WriteEncoded writes encoded rows of view to s, through s's WriteEncoded
// when s is an EncodedWriter, and otherwise decoding them for Write.
func WriteEncoded(ctx context.Context, s Store, view View, rows []EncodedRow) error {
	if w, ok := s.(EncodedWriter); ok {
		return w.WriteEncoded(ctx, view, rows)
	}
	c := CodecOf(&view)
	decoded := make([]Row, len(rows))
	var dec Decoder
	for i, r := range rows {
		rec, err := dec.Decode(c, string(r.Record))
		if err == nil && !rec.Found {
			err = fmt.Errorf("a record of another schema of the view")
		}
		if err != nil {
			return fmt.Errorf("%w: view %q, row %d: %v", ErrInvalid, view.Name, i, err)
		}
		decoded[i] = Row{Key: r.Key, EventTime: rec.EventTime, Values: rec.Values}
	}
	return s.Write(ctx, view, decoded)
}

// EncodedReader is implemented by stores that can return records as they
// hold them, for callers that transcode records rather than decode them (the
// feature server; see Codec.Transcode).
type EncodedReader interface {
	// ReadEncoded is Read without decoding: it returns the encoded record
	// of each lookup, or "" where there is none.
	ReadEncoded(ctx context.Context, lookups []Lookup) ([]string, error)
}

// Updater is implemented by stores whose records writers can change in
// place, for records that writers merge into rather than replace: the tiles
// of aggregated views (materialization replaces an entity's tiles, pushes
// and stream events merge into them). The store treats these records as
// opaque bytes: it neither decodes nor compares them, and they do not
// expire (an aggregated view has no TTL). They are stored under the keys of
// Write, so ReadEncoded returns them; Read would decode them as records of
// view's features, which they are not.
type Updater interface {
	// Update sets the record of each of keys (join key values of view, as
	// Lookup.Key) to what fn returns given the stored record ("" for none);
	// fn returning "" leaves it unchanged. A key may come more than once:
	// fn then sees, for each, the record the ones before it left.
	//
	// Per key it is atomic: concurrent Updates of one key behave as if run
	// one after the other, so none is lost. fn may be called more than once
	// for a key (when another writer changed it meanwhile) and must have no
	// side effects nor call the store. An error from fn stops the Update, writing nothing more, and is returned wrapped. A
	// key that cannot identify an entity is an error wrapping ErrInvalid,
	// and nothing is written. An Update that fails otherwise may have
	// updated some of its keys: callers whose fn merges (adds) must make
	// merging the same change twice harmless, or know it was not written.
	Update(ctx context.Context, view View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error
}

// ReadEncoded returns the encoded record of each lookup ("" for none),
// through s's ReadEncoded when s is an EncodedReader, and otherwise through
// Read, encoding the records again.
func ReadEncoded(ctx context.Context, s Store, lookups []Lookup) ([]string, error) {
	if r, ok := s.(EncodedReader); ok {
		return r.ReadEncoded(ctx, lookups)
	}
	recs, err := s.Read(ctx, lookups)
	if err != nil {
		return nil, err
	}
	encoded := make([]string, len(recs))
	var buf []byte
	for i, rec := range recs {
		if !rec.Found {
			continue
		}
		if buf, err = CodecOf(lookups[i].View).AppendRecord(buf[:0], rec.EventTime, rec.Values); err != nil {
			return nil, fmt.Errorf("encode the record of view %q again: %w", lookups[i].View.Name, err)
		}
		encoded[i] = string(buf)
	}
	return encoded, nil
}

// DecodeAll decodes the encoded record of each lookup ("" for none). A
// record that cannot be decoded is an error wrapping ErrCorrupt that names
// where it is stored, where(i) for lookup i.
func DecodeAll(lookups []Lookup, encoded []string, where func(i int) string) ([]Record, error) {
	codecs := make(map[*View]*Codec, 4)
	var dec Decoder
	recs := make([]Record, len(lookups))
	for i, e := range encoded {
		if e == "" {
			continue
		}
		l := lookups[i]
		c := codecs[l.View]
		if c == nil {
			c = CodecOf(l.View)
			codecs[l.View] = c
		}
		var err error
		if recs[i], err = dec.Decode(c, e); err != nil {
			return nil, fmt.Errorf("read %s: %w", where(i), err)
		}
	}
	return recs, nil
}

// Errors of online stores, to be checked with errors.Is.
var (
	// ErrUnavailable means the backend cannot be reached; retrying later may succeed.
	ErrUnavailable = errors.New("online: store unavailable")
	// ErrTimeout means the backend did not answer within the time bound
	// of a store's calls (see Bound), as a hung server
	// does; it wraps ErrUnavailable.
	ErrTimeout = fmt.Errorf("%w: no answer in time", ErrUnavailable)
	// ErrContended means that an Update gave up on a record that other
	// writers changed at each of its attempts; it wraps ErrUnavailable.
	ErrContended = fmt.Errorf("%w: records changed by other writers at every attempt", ErrUnavailable)
	// ErrCorrupt means a stored record cannot be decoded.
	ErrCorrupt = errors.New("online: corrupt record")
	// ErrInvalid means a row does not match its view (wrong number or types
	// of values, no event time) or a row or lookup has a join key value that
	// cannot identify an entity (null, list, float, bool, timestamp).
	ErrInvalid = errors.New("online: invalid row")
	// ErrClosed is returned by calls on a closed store.
	ErrClosed = errors.New("online: store closed")
)

// Status tells what a lookup found for one feature at time now.
func Status(rec Record, feature int, ttl time.Duration, now time.Time) almanacv1.FieldStatus {
	st := RecordStatus(rec, ttl, now)
	if st == almanacv1.FieldStatus_PRESENT && (feature >= len(rec.Values) || rec.Values[feature].GetVal() == nil) {
		return almanacv1.FieldStatus_NULL_VALUE
	}
	return st
}

// RecordStatus tells what a lookup found for a record at time now, whatever
// its values: NOT_FOUND, OUTSIDE_MAX_AGE, or PRESENT when its values are
// served (Status then says which of them are null).
func RecordStatus(rec Record, ttl time.Duration, now time.Time) almanacv1.FieldStatus {
	switch {
	case !rec.Found:
		return almanacv1.FieldStatus_NOT_FOUND
	case ttl > 0 && now.Sub(rec.EventTime) > ttl:
		return almanacv1.FieldStatus_OUTSIDE_MAX_AGE
	}
	return almanacv1.FieldStatus_PRESENT
}
