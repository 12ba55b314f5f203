package server

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// reply is the answer to a lookup, kept close to what the store returned.
// It holds the records of every entity row, one per plan view: each the
// stored record with its features' values transcoded to their wire form
// (online.Codec.Transcode), or for a view with window aggregations the
// values of its windows at now (addWindows), a status and an event time. Each feature column
// of the plan is a field of one of a row's records (column); the server's
// codec writes the columns to the wire from there (appendWire), so a lookup
// builds no response message. A reply is not modified once newReply returns
// it, until release gives its memory back.
type reply struct {
	plan  *plan
	names *almanacv1.FeatureList
	keys  [][]*almanacv1.Value // the join key columns, in plan order
	rows  int
	now   time.Time

	// encoded holds the stored record of entity row i and plan view j at
	// i*len(plan.views)+j ("" for none).
	encoded []string
	// Per record, entity row i and record j at k = i*len(plan.views)+j:
	// its status (online.RecordStatus for a stored one), its event time,
	// and where its fields' values start in ends.
	states []almanacv1.FieldStatus
	times  []time.Time
	first  []int
	// wire holds the values of every record in their wire form;
	// ends[first[k]+f] is where field f of record k ends in it, and starts
	// where the one before ends (ends[first[k]-1] for f = 0, or 0).
	wire []byte
	ends []int
	// buffers, from replyArenas, back the slices above (but encoded) until
	// release.
	buffers *arena
}

// arena is the memory of a lookup and its reply, kept in replyArenas from
// one lookup to the next, so that a steady load of lookups allocates little.
type arena struct {
	// The reply's slices.
	wire   []byte
	ends   []int
	states []almanacv1.FieldStatus
	times  []time.Time
	first  []int
	// The lookup's reads of the store.
	lookups []online.Lookup
	keys    []*almanacv1.Value
	// The tiles of the record addWindows decodes.
	tiles window.Set
	// appendWire's working space.
	stamps    []byte
	stampEnds []int
	sts       []byte
	recs      []int
}

var replyArenas = sync.Pool{New: func() any { return new(arena) }}

// newArena returns an arena from replyArenas.
func newArena() *arena { return replyArenas.Get().(*arena) }

// put gives the arena back to replyArenas, dropping its references to
// the lookup's request. (Elements past the lookup's were cleared by the
// puts of the lookups that used them.)
func (a *arena) put() {
	clear(a.lookups)
	clear(a.keys)
	replyArenas.Put(a)
}

// sized returns s resized to n elements, reusing its memory when it can;
// the elements' values are left unspecified.
func sized[T any](s []T, n int) []T { return slices.Grow(s[:0], n)[:n] }

// release gives the reply's memory back for other lookups; the reply must
// not be used afterwards.
func (r *reply) release() {
	a := r.buffers
	a.wire, a.ends, a.states, a.times, a.first = r.wire[:0], r.ends[:0], r.states, r.times, r.first
	a.put()
	r.buffers, r.wire, r.ends, r.states, r.times, r.first = nil, nil, nil, nil, nil, nil
}

// newReply transcodes the records a lookup of rows entity rows found at time
// now, into the memory of a, which the reply then holds until release; the
// tile records of views with window aggregations are evaluated at now. A
// record that cannot be decoded is a DATA_LOSS error naming its view and
// entity.
func newReply(a *arena, p *plan, names *almanacv1.FeatureList, keys [][]*almanacv1.Value, encoded []string, rows int, now time.Time) (*reply, error) {
	nv := len(p.views)
	r := &reply{
		plan: p, names: names, keys: keys, rows: rows, now: now,
		encoded: encoded,
		states:  sized(a.states, len(encoded)),
		times:   sized(a.times, len(encoded)),
		first:   sized(a.first, len(encoded)),
		buffers: a,
	}
	features := 0
	for j := range p.views {
		features += len(p.views[j].view.Features)
	}
	// Transcoding adds about two bytes of tags per value to a record.
	size := 2 * rows * features
	for _, e := range encoded {
		size += len(e)
	}
	r.wire = slices.Grow(a.wire[:0], size)
	r.ends = slices.Grow(a.ends[:0], rows*features)
	for k, e := range encoded {
		v := p.views[k%nv]
		r.first[k] = len(r.ends)
		n := len(v.view.Features)
		r.ends = r.ends[:len(r.ends)+n]
		if v.tiles != nil {
			if err := r.addWindows(k, v, e); err != nil {
				r.release()
				return nil, r.corrupt(k, err)
			}
			continue
		}
		var rec online.Record
		if e != "" {
			var err error
			r.wire, rec.Found, rec.EventTime, err = v.codec.Transcode(r.wire, e, r.ends[r.first[k]:])
			if err != nil {
				r.release()
				return nil, r.corrupt(k, err)
			}
		}
		if !rec.Found {
			for f := range n {
				r.ends[r.first[k]+f] = len(r.wire)
			}
		}
		r.states[k] = online.RecordStatus(rec, v.view.TTL, now)
		r.times[k] = rec.EventTime
	}
	return r, nil
}

// addWindows sets record k from e, the tile record of the entity for view
// v, which has window aggregations ("" for none): each window's value at
// the reply's now in wire form, PRESENT (NULL_VALUE for a null value, as
// for stored records) and the latest event time of the entity's rows; or,
// when the entity has no row at or before now, NOT_FOUND and no values.
// The values are marshaled one by one, which allocates for each; views
// without windows never come here.
func (r *reply) addWindows(k int, v *viewInfo, e string) error {
	set := &r.buffers.tiles
	ends := r.ends[r.first[k] : r.first[k]+len(v.view.Features)]
	found := false
	if e != "" {
		var err error
		if found, err = v.tiles.DecodeSet(set, e); err != nil {
			return err
		}
	}
	var vals []*almanacv1.Value
	if found {
		vals, found = set.Evaluate(v.aggs, v.def.Windows, r.now)
	}
	r.states[k], r.times[k] = almanacv1.FieldStatus_NOT_FOUND, time.Time{}
	if found {
		last, _ := set.Latest(r.now)
		r.states[k], r.times[k] = almanacv1.FieldStatus_PRESENT, time.UnixMilli(last).UTC()
	}
	for f := range ends {
		if found {
			var err error
			if r.wire, err = (proto.MarshalOptions{}).MarshalAppend(r.wire, vals[f]); err != nil {
				return fmt.Errorf("encode feature %q: %w", v.view.Features[f].Name, err)
			}
		}
		ends[f] = len(r.wire)
	}
	return nil
}

// corrupt is the error of record k, which cannot be decoded.
func (r *reply) corrupt(k int, err error) error {
	nv := len(r.plan.views)
	return status.Errorf(codes.DataLoss, "online store holds a corrupt record of view %q for entity %s: %v", r.plan.views[k%nv].view.Name, r.entity(k/nv, k%nv), err)
}

// entity describes the join key values of view j for entity row i.
func (r *reply) entity(i, j int) string {
	var s string
	for n, k := range r.plan.keyIdx[j] {
		if n > 0 {
			s += ", "
		}
		v := values.Go(r.keys[k][i])
		if str, ok := v.(string); ok {
			v = strconv.Quote(registry.Clip(str))
		}
		s += fmt.Sprintf("%s=%v", r.plan.keys[k].Name, v)
	}
	return s
}

// columns is the number of response columns: join keys, then features.
func (r *reply) columns() int { return len(r.keys) + len(r.plan.columns) }

// value returns the wire form of field f of record k: the fields of its
// Value message, none for null.
func (r *reply) value(k, f int) []byte {
	i := r.first[k] + f
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.wire[start:r.ends[i]]
}
