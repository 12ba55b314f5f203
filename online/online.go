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

	codec *Codec // built once by ViewOf, so lookups need not build it
}

// ViewOf returns the online-store view of a feature view definition, with
// its codec built.
func ViewOf(v *registry.FeatureView) View {
	view := View{Name: v.Name, Features: v.Features, TTL: v.TTL}
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
// event time is later than the stored one, whatever the order or concurrency
// of writes. A row whose event time equals the stored one's does not replace
// it, so writing the same rows again is a no-op (see Replaces). Records older
// than their view's TTL are removed by the store in time (expired records may
// still be read until then; Status decides), and rows already older than
// their view's TTL when written are not stored.
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

// EncodedReader is implemented by stores that can return records as they
// hold them, for callers that transcode records rather than decode them (the
// feature server; see Codec.Transcode).
type EncodedReader interface {
	// ReadEncoded is Read without decoding: it returns the encoded record
	// of each lookup, or "" where there is none.
	ReadEncoded(ctx context.Context, lookups []Lookup) ([]string, error)
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
