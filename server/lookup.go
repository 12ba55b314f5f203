package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// GetOnlineFeatures implements almanacv1.FeatureServerServer. Over gRPC the
// server answers lookups with lookup and its codec instead (see wire.go), so
// that no response message is built; this method gives the same answer as a
// message, for callers in the same process.
func (s *Server) GetOnlineFeatures(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) (*almanacv1.GetOnlineFeaturesResponse, error) {
	r, err := s.lookup(ctx, req)
	if err != nil {
		return nil, err
	}
	b, err := r.appendWire(nil)
	r.release()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := &almanacv1.GetOnlineFeaturesResponse{}
	if err := proto.Unmarshal(b, resp); err != nil {
		return nil, status.Errorf(codes.Internal, "read back the response: %v", err)
	}
	return resp, nil
}

// lookup validates a request, reads its records in one round trip to the
// store and returns them as a reply.
func (s *Server) lookup(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) (*reply, error) {
	cat := s.catalog.Load()
	p, err := s.resolve(cat, req)
	if err != nil {
		return nil, err
	}
	names, err := p.namesFor(req.GetFullFeatureNames())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	cols, n, err := s.entityColumns(cat, p, req.GetEntities())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.metrics.entities.Observe(float64(n))

	nv := len(p.views)
	a := newArena()
	lookups := sized(a.lookups, n*nv)
	keys := slices.Grow(a.keys[:0], n*len(p.keys)*nv)
	for i := range n {
		for j, vi := range p.views {
			start := len(keys)
			for _, k := range p.keyIdx[j] {
				keys = append(keys, cols[k][i])
			}
			lookups[i*nv+j] = online.Lookup{View: &vi.view, Key: keys[start:len(keys):len(keys)]}
		}
	}
	a.lookups, a.keys = lookups, keys
	began := time.Now()
	encoded, err := online.ReadEncoded(ctx, s.store, lookups)
	s.metrics.observeStore("read", began, err)
	if err != nil {
		a.put()
		return nil, storeError(ctx, err)
	}
	r, err := newReply(a, p, names, cols, encoded, n, s.now())
	if err != nil {
		return nil, err
	}
	s.logLookup(r)
	return r, nil
}

// logLookup hands a sample of feature services' lookups to the feature log.
// It never waits: when the log's buffer is full the lookup is dropped. The
// log builds the logged columns from the records in its own goroutine, so
// that a sampled lookup costs its caller no more than another.
func (s *Server) logLookup(r *reply) {
	p := r.plan
	if s.opts.FeatureLog == nil || p.service == "" || p.sampleRate <= 0 || rand.Float64() >= p.sampleRate {
		return
	}
	l := &logged{plan: p, keys: r.keys, encoded: r.encoded, states: slices.Clone(r.states), rows: r.rows, now: r.now, scratch: &s.logScratch}
	if s.opts.FeatureLog.Log(offline.LogEntry{Service: p.service, Time: r.now, Rows: r.rows, Build: l.columns}) {
		s.metrics.loggedRows.Add(float64(r.rows))
	}
}

// logged is a lookup to log: what the store returned for it, which does not
// change after the lookup.
type logged struct {
	plan    *plan
	keys    [][]*almanacv1.Value    // the join key columns, in plan order
	encoded []string                // per (entity row, plan view), as in reply
	states  []almanacv1.FieldStatus // the records' statuses, a copy of reply's
	rows    int
	now     time.Time // when windows were evaluated
	scratch *logScratch
}

// logScratch is the memory logged.columns builds log columns in, reused
// from one logged lookup to the next: the feature log builds one entry at
// a time, in one goroutine, and is done with its columns before it builds
// the next (offline.LogEntry).
type logScratch struct {
	dec      online.Decoder
	tiles    window.Set
	recs     []online.Record
	values   []*almanacv1.Value
	statuses []almanacv1.FieldStatus
	cols     []offline.LogColumn
}

// columns decodes the lookup's records into the plan's log columns: the
// join keys, then each feature's values (nil for null) and statuses. The
// records' statuses are the lookup's; only records whose values it served
// are decoded, and tile records evaluated at the lookup's now, which gives
// the values it served. The columns are valid until the next call of
// columns with the same scratch.
func (l *logged) columns() []offline.LogColumn {
	p, sc := l.plan, l.scratch
	nv := len(p.views)
	sc.dec.Reset()
	recs := sized(sc.recs, len(l.encoded))
	for k, e := range l.encoded {
		recs[k] = online.Record{}
		if l.states[k] != almanacv1.FieldStatus_PRESENT {
			continue
		}
		// The lookup read the record, so it decodes.
		if v := p.views[k%nv]; v.tiles != nil {
			if found, _ := v.tiles.DecodeSet(&sc.tiles, e); found {
				recs[k].Values, recs[k].Found = sc.tiles.Evaluate(v.aggs, v.def.Windows, l.now)
			}
		} else {
			recs[k], _ = sc.dec.Decode(v.codec, e)
		}
	}
	values := sized(sc.values, len(p.columns)*l.rows)
	statuses := sized(sc.statuses, len(p.columns)*l.rows)
	cols := append(sc.cols[:0], p.logColumns...)
	sc.recs, sc.values, sc.statuses, sc.cols = recs, values, statuses, cols
	for c := range cols {
		if c < len(l.keys) {
			cols[c].Values = l.keys[c]
			continue
		}
		col := p.columns[c-len(l.keys)]
		at := (c - len(l.keys)) * l.rows
		cols[c].Values = values[at : at+l.rows : at+l.rows]
		cols[c].Statuses = statuses[at : at+l.rows : at+l.rows]
		for i := range l.rows {
			k := i*nv + col.record
			st, v := l.states[k], (*almanacv1.Value)(nil)
			if st == almanacv1.FieldStatus_PRESENT {
				if v = recs[k].Values[col.field]; v.GetVal() == nil {
					st, v = almanacv1.FieldStatus_NULL_VALUE, nil
				}
			}
			cols[c].Values[i], cols[c].Statuses[i] = v, st
		}
	}
	return cols
}

// resolve finds the plan of a request.
func (s *Server) resolve(cat *catalog, req *almanacv1.GetOnlineFeaturesRequest) (*plan, error) {
	switch k := req.GetKind().(type) {
	case *almanacv1.GetOnlineFeaturesRequest_FeatureService:
		p, ok := cat.services[k.FeatureService]
		if err := cat.unservable[k.FeatureService]; err != nil {
			return nil, status.Error(codes.FailedPrecondition, err.Error())
		}
		if !ok { // every service of the catalog has a plan or is unservable
			_, err := cat.defs.LookupService(k.FeatureService)
			return nil, status.Error(codes.NotFound, err.Error())
		}
		return p, nil
	case *almanacv1.GetOnlineFeaturesRequest_Features:
		p, err := cat.planFor(k.Features.GetVal())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return p, nil
	}
	return nil, status.Error(codes.InvalidArgument, "set feature_service or features")
}

// entityColumns checks the request's entity columns against the plan's join
// keys and returns them in plan order, converted to the keys' types, with
// the number of rows.
func (s *Server) entityColumns(cat *catalog, p *plan, entities map[string]*almanacv1.RepeatedValue) ([][]*almanacv1.Value, int, error) {
	for name := range entities {
		if !cat.joinKeys[name] {
			known := make([]string, 0, len(cat.joinKeys))
			for k := range cat.joinKeys {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, 0, fmt.Errorf("unknown entity key %q%s", registry.Clip(name), registry.DidYouMean(name, known))
		}
	}
	cols := make([][]*almanacv1.Value, len(p.keys))
	n := -1
	for i, k := range p.keys {
		rv, ok := entities[k.Name]
		if !ok {
			return nil, 0, fmt.Errorf("entity key %q is missing; the requested features need it", k.Name)
		}
		vals := rv.GetVal()
		switch {
		case n < 0:
			n = len(vals)
		case len(vals) != n:
			return nil, 0, fmt.Errorf("entity columns have different lengths: %q has %d values, %q has %d", p.keys[0].Name, n, k.Name, len(vals))
		}
		col, err := keyColumn(k, vals)
		if err != nil {
			return nil, 0, err
		}
		cols[i] = col
	}
	if n < 0 {
		n = 0
	}
	if n > s.opts.MaxEntities {
		return nil, 0, fmt.Errorf("%d entity rows is over the limit of %d per request; split the request", n, s.opts.MaxEntities)
	}
	return cols, n, nil
}

// keyColumn checks that vals can be values of join key k, converting
// integers between int32 and int64 where k needs it. vals is returned as is
// when nothing needs converting.
func keyColumn(k registry.Field, vals []*almanacv1.Value) ([]*almanacv1.Value, error) {
	out := vals
	for i, v := range vals {
		conv, err := keyValue(k.Type, v)
		if err != nil {
			return nil, fmt.Errorf("entity key %q, row %d: %w", k.Name, i, err)
		}
		if conv != v {
			if &out[0] == &vals[0] {
				out = append([]*almanacv1.Value(nil), vals...)
			}
			out[i] = conv
		}
	}
	return out, nil
}

func keyValue(t registry.Type, v *almanacv1.Value) (*almanacv1.Value, error) {
	if v.GetVal() == nil {
		return nil, fmt.Errorf("a join key cannot be null")
	}
	return values.Coerce(v, t)
}
