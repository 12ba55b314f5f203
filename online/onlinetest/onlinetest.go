package onlinetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Sweeper is a store that removes expired records when asked, by the clock
// it was given, rather than by its backend's own clock as Redis does. Run
// tests physical expiry of a Sweeper by advancing the clock and calling
// Sweep, and of any other store by waiting for real time to pass.
type Sweeper interface {
	// Sweep removes the records expired by now and returns how many.
	Sweep(ctx context.Context) (int, error)
}

// NewStore returns a new, empty store that reads the time from now, for a
// test of Run. Run closes it when the test ends.
type NewStore func(t *testing.T, now func() time.Time) online.Store

// Run runs every behaviour of the online.Store contract against the stores
// newStore returns, one store per test. Stores must not remove expired
// records in the background while Run tests them: Run advances the clock it
// gives them and expects expired records to stay readable until it calls
// Sweep.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{"RoundTripEveryType", testRoundTrip},
		{"NotFound", testNotFound},
		{"NewerWinsOutOfOrder", testNewerWinsOutOfOrder},
		{"NewerWinsWithinOneWrite", testNewerWinsWithinOneWrite},
		{"EqualEventTimeLastWriteWins", testEqualEventTime},
		{"RacingWriters", testRacingWriters},
		{"TTLStatus", testTTLStatus},
		{"TTLExpiredRowsNotWritten", testExpiredNotWritten},
		{"TTLPhysicalExpiry", testPhysicalExpiry},
		{"ManyViewsPerEntity", testManyViews},
		{"CompositeKeys", testCompositeKeys},
		{"KeyValues", testKeyValues},
		{"LargeBatch", testLargeBatch},
		{"DuplicateLookups", testDuplicateLookups},
		{"InvalidRowsWriteNothing", testInvalidRows},
		{"SchemaChange", testSchemaChange},
		{"EmptyCalls", testEmptyCalls},
		{"CanceledContext", testCanceledContext},
		{"ReadEncodedAgreesWithRead", testReadEncoded},
		{"WriteEncoded", testWriteEncoded},
		{"Close", testClose},
		{"Update", testUpdate},
		{"UpdateErrors", testUpdateErrors},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"UpdateManyKeys", testUpdateManyKeys},
		{"UpdateNeverExpires", testUpdateNeverExpires},
		{"UpdateClosed", testUpdateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Now().Truncate(time.Millisecond)}
			s := newStore(t, clk.Now)
			t.Cleanup(func() {
				if err := s.Close(); err != nil && !errors.Is(err, online.ErrClosed) {
					t.Errorf("close store: %v", err)
				}
			})
			tt.run(t, &harness{Store: s, clock: clk, ctx: t.Context()})
		})
	}
}

// clock is a clock that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// harness is a store under test with its clock.
type harness struct {
	online.Store
	clock *clock
	ctx   context.Context
}

func (h *harness) write(t *testing.T, view *online.View, rows ...online.Row) {
	t.Helper()
	if err := h.Write(h.ctx, *view, rows); err != nil {
		t.Fatalf("write %d rows of view %q: %v", len(rows), view.Name, err)
	}
}

func (h *harness) read(t *testing.T, lookups ...online.Lookup) []online.Record {
	t.Helper()
	recs, err := h.Read(h.ctx, lookups)
	if err != nil {
		t.Fatalf("read %d lookups: %v", len(lookups), err)
	}
	if len(recs) != len(lookups) {
		t.Fatalf("got %d records for %d lookups", len(recs), len(lookups))
	}
	return recs
}

// readOne reads the record of one entity of view.
func (h *harness) readOne(t *testing.T, view *online.View, key ...*almanacv1.Value) online.Record {
	t.Helper()
	return h.read(t, online.Lookup{View: view, Key: key})[0]
}

// Values.

func i32(x int32) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: x}}
}
func i64(x int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: x}}
}
func f32(x float32) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_FloatVal{FloatVal: x}}
}
func f64(x float64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: x}}
}
func boolean(x bool) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: x}}
}
func str(x string) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: x}}
}
func byt(x []byte) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: x}}
}
func ts(ms int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: ms}}
}
func key(values ...*almanacv1.Value) []*almanacv1.Value { return values }

// checkRecord fails t unless got is found with event time at and values
// want, bit for bit (NaN payloads and the sign of zero included).
func checkRecord(t *testing.T, what string, got online.Record, at time.Time, want []*almanacv1.Value) {
	t.Helper()
	if !got.Found {
		t.Errorf("%s: got not found, want found", what)
		return
	}
	if w := at.Truncate(time.Millisecond); !got.EventTime.Equal(w) {
		t.Errorf("%s: got event time %v, want %v", what, got.EventTime, w)
	}
	if len(got.Values) != len(want) {
		t.Errorf("%s: got %d values, want %d", what, len(got.Values), len(want))
		return
	}
	for i := range want {
		if want[i].GetVal() == nil {
			if got.Values[i] != nil {
				t.Errorf("%s: value %d: got %v, want nil (null)", what, i, got.Values[i])
			}
			continue
		}
		if !sameValue(got.Values[i], want[i]) {
			t.Errorf("%s: value %d: got %v, want %v", what, i, got.Values[i], want[i])
		}
	}
}

func sameValue(got, want *almanacv1.Value) bool {
	g, gErr := proto.MarshalOptions{Deterministic: true}.Marshal(got)
	w, wErr := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	return gErr == nil && wErr == nil && bytes.Equal(g, w)
}

func checkNotFound(t *testing.T, what string, got online.Record) {
	t.Helper()
	if got.Found || !got.EventTime.IsZero() || got.Values != nil {
		t.Errorf("%s: got %+v, want a record not found", what, got)
	}
}

// statsView is a view whose rows statsRow makes.
func statsView(name string, ttl time.Duration) *online.View {
	return &online.View{Name: name, TTL: ttl, Features: []registry.Field{
		{Name: "score", Type: registry.TypeFloat64},
		{Name: "trips", Type: registry.TypeInt64},
		{Name: "city", Type: registry.TypeString},
	}}
}

// statsValues returns the values of the row of entity id at time at, so that
// a test can tell which row a record came from.
func statsValues(id int64, at time.Time) []*almanacv1.Value {
	ms := at.UnixMilli()
	return []*almanacv1.Value{f64(float64(ms) / 1000), i64(id), str(fmt.Sprintf("city-%d-%d", id, ms))}
}

func statsRow(id int64, at time.Time) online.Row {
	return online.Row{Key: key(i64(id)), EventTime: at, Values: statsValues(id, at)}
}

func testRoundTrip(t *testing.T, h *harness) {
	var features []registry.Field
	for s := registry.Int32; s <= registry.Timestamp; s++ {
		features = append(features,
			registry.Field{Name: s.String(), Type: registry.Type{Elem: s}},
			registry.Field{Name: s.String() + "_list", Type: registry.ListOf(s)})
	}
	view := &online.View{Name: "every_type", Features: features}
	at := h.clock.Now()
	rows := []struct {
		name   string
		values []*almanacv1.Value
	}{
		{"typical", []*almanacv1.Value{
			i32(42), {Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: []int32{1, -2, 3}}}},
			i64(1 << 40), {Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: []int64{-1 << 40, 7}}}},
			f32(0.25), {Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{0.1, 0.2, 0.3}}}},
			f64(math.Pi), {Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: []float64{math.E, -1.5}}}},
			boolean(true), {Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: []bool{false, true}}}},
			str("hello"), {Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"a", "b"}}}},
			byt([]byte("raw")), {Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: [][]byte{[]byte("x"), []byte("yz")}}}},
			ts(at.UnixMilli()), {Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: []int64{at.UnixMilli() - 1, at.UnixMilli()}}}},
		}},
		{"extremes", []*almanacv1.Value{
			i32(math.MinInt32), {Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: []int32{math.MinInt32, math.MaxInt32}}}},
			i64(math.MinInt64), {Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: []int64{math.MinInt64, math.MaxInt64}}}},
			f32(math.MaxFloat32), {Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{math.SmallestNonzeroFloat32, -math.MaxFloat32}}}},
			f64(-math.MaxFloat64), {Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: []float64{math.SmallestNonzeroFloat64, math.MaxFloat64}}}},
			boolean(false), {Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: []bool{false}}}},
			str(strings.Repeat("long ", 20000)), {Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"", ""}}}},
			byt(bytes.Repeat([]byte{0xff}, 100000)), {Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: [][]byte{{}, {0}}}}},
			ts(math.MinInt64), {Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: []int64{math.MaxInt64, -1}}}},
		}},
		{"NaN, infinities and negative zero", []*almanacv1.Value{
			nil, nil, nil, nil,
			f32(float32(math.NaN())), {Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1))}}}},
			f64(math.NaN()), {Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: []float64{math.Inf(-1), math.Inf(1), math.Copysign(0, -1), math.Float64frombits(0x7ff8000000000bad)}}}},
			nil, nil, nil, nil, nil, nil, nil, nil,
		}},
		{"unicode and binary", []*almanacv1.Value{
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			str("naïve café, 東京, 🚕, e\u0301, \u202e, \x00"), {Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"日本語", "{}", "a:b"}}}},
			byt([]byte{0, 1, 0x7f, 0x80, 0xfe, 0xff, '{', '}'}), {Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: [][]byte{{0xff, 0}, {}}}}},
			ts(-1), {Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: []int64{1714566600123}}}},
		}},
		{"empty lists", []*almanacv1.Value{
			nil, {Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{}}},
			nil, {Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{}}},
			nil, {Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{}}},
			nil, {Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{}}},
			nil, {Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{}}},
			nil, {Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{}}},
			nil, {Val: &almanacv1.Value_BytesListVal{}},
			nil, {Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{}}},
		}},
		{"all null", make([]*almanacv1.Value, len(features))},
		{"all unset", func() []*almanacv1.Value {
			v := make([]*almanacv1.Value, len(features))
			for i := range v {
				v[i] = &almanacv1.Value{}
			}
			return v
		}()},
	}
	var written []online.Row
	var lookups []online.Lookup
	for i, r := range rows {
		row := online.Row{Key: key(i64(int64(i))), EventTime: at.Add(time.Duration(i) * time.Millisecond), Values: r.values}
		written = append(written, row)
		lookups = append(lookups, online.Lookup{View: view, Key: row.Key})
	}
	h.write(t, view, written...)
	recs := h.read(t, lookups...)
	for i, r := range rows {
		checkRecord(t, r.name, recs[i], written[i].EventTime, r.values)
		for j, v := range recs[i].Values {
			want := almanacv1.FieldStatus_PRESENT
			if r.values[j].GetVal() == nil {
				want = almanacv1.FieldStatus_NULL_VALUE
			}
			if got := online.Status(recs[i], j, view.TTL, h.clock.Now()); got != want {
				t.Errorf("%s: feature %s (%v): got status %v, want %v", r.name, features[j].Name, v, got, want)
			}
		}
	}
	// Event times keep their milliseconds, before the epoch too.
	old := time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, time.UTC)
	oldRow := online.Row{Key: key(i64(100)), EventTime: old, Values: rows[0].values}
	h.write(t, view, oldRow)
	checkRecord(t, "event time before 1970", h.readOne(t, view, i64(100)), old, rows[0].values)
}

func testNotFound(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	now := h.clock.Now()
	h.write(t, view, statsRow(1, now))
	recs := h.read(t,
		online.Lookup{View: view, Key: key(i64(2))},
		online.Lookup{View: view, Key: key(i64(1))},
		online.Lookup{View: statsView("never_written", 0), Key: key(i64(1))},
	)
	checkNotFound(t, "other entity", recs[0])
	checkRecord(t, "written entity", recs[1], now, statsValues(1, now))
	checkNotFound(t, "other view", recs[2])
	for i := range 3 {
		if got, want := online.Status(recs[0], i, view.TTL, now), almanacv1.FieldStatus_NOT_FOUND; got != want {
			t.Errorf("feature %d: got status %v, want %v", i, got, want)
		}
	}
}

func testNewerWinsOutOfOrder(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	t0 := h.clock.Now()
	steps := []struct {
		name  string
		write time.Time
		want  time.Time
	}{
		{"first", t0, t0},
		{"older ignored", t0.Add(-time.Hour), t0},
		{"1ms older ignored", t0.Add(-time.Millisecond), t0},
		{"newer replaces", t0.Add(time.Hour), t0.Add(time.Hour)},
		{"between ignored", t0.Add(30 * time.Minute), t0.Add(time.Hour)},
		{"1ms newer replaces", t0.Add(time.Hour + time.Millisecond), t0.Add(time.Hour + time.Millisecond)},
	}
	for _, st := range steps {
		h.write(t, view, statsRow(7, st.write))
		checkRecord(t, st.name, h.readOne(t, view, i64(7)), st.want, statsValues(7, st.want))
	}
}

func testNewerWinsWithinOneWrite(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	t0 := h.clock.Now()
	h.write(t, view, statsRow(1, t0.Add(time.Second)), statsRow(1, t0.Add(3*time.Second)), statsRow(1, t0.Add(2*time.Second)),
		statsRow(2, t0.Add(5*time.Second)), statsRow(2, t0.Add(4*time.Second)))
	recs := h.read(t, online.Lookup{View: view, Key: key(i64(1))}, online.Lookup{View: view, Key: key(i64(2))})
	checkRecord(t, "entity 1", recs[0], t0.Add(3*time.Second), statsValues(1, t0.Add(3*time.Second)))
	checkRecord(t, "entity 2", recs[1], t0.Add(5*time.Second), statsValues(2, t0.Add(5*time.Second)))
}

// testEqualEventTime checks the documented tie rule: of rows with equal
// event times, the one written last wins, within one write too, whether
// the key held a record before or not.
func testEqualEventTime(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	at := h.clock.Now()
	first := statsRow(1, at)
	second := online.Row{Key: first.Key, EventTime: at, Values: []*almanacv1.Value{f64(-1), i64(-1), str("second")}}
	third := online.Row{Key: first.Key, EventTime: at, Values: []*almanacv1.Value{f64(-3), i64(-3), nil}}
	h.write(t, view, first)
	h.write(t, view, second)
	checkRecord(t, "after a second write at the same time", h.readOne(t, view, i64(1)), at, second.Values)
	h.write(t, view, second, first)
	checkRecord(t, "after both again in one write", h.readOne(t, view, i64(1)), at, first.Values)
	h.write(t, view, statsRow(1, at.Add(-time.Second)), third)
	checkRecord(t, "after an older row and a third at the same time", h.readOne(t, view, i64(1)), at, third.Values)

	fresh := statsRow(2, at)
	again := online.Row{Key: fresh.Key, EventTime: at, Values: second.Values}
	h.write(t, view, fresh, again, statsRow(3, at), fresh)
	checkRecord(t, "a new key written three times in one write", h.readOne(t, view, i64(2)), at, fresh.Values)
	h.write(t, view, again)
	checkRecord(t, "the new key written again", h.readOne(t, view, i64(2)), at, again.Values)
}

func testRacingWriters(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	t0 := h.clock.Now()
	const (
		writers  = 8
		perWrite = 40
		entities = 3
	)
	// Every writer writes every event time in its own random order, for
	// each entity, while readers read: the last event time must win.
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for _, i := range rng.Perm(perWrite) {
				at := t0.Add(time.Duration(i) * time.Second)
				rows := make([]online.Row, 0, entities)
				for id := range int64(entities) {
					rows = append(rows, statsRow(id, at))
				}
				if err := h.Write(h.ctx, *view, rows); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	for r := range 2 {
		wg.Go(func() {
			for range perWrite {
				recs, err := h.Read(h.ctx, []online.Lookup{{View: view, Key: key(i64(0))}})
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if rec := recs[0]; rec.Found && !sameValue(rec.Values[2], statsValues(0, rec.EventTime)[2]) {
					errs <- fmt.Errorf("reader %d: record at %v holds %v, the values of another row", r, rec.EventTime, rec.Values[2])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	last := t0.Add((perWrite - 1) * time.Second)
	for id := range int64(entities) {
		checkRecord(t, fmt.Sprintf("entity %d", id), h.readOne(t, view, i64(id)), last, statsValues(id, last))
	}
}

func testTTLStatus(t *testing.T, h *harness) {
	view := statsView("stats", time.Hour)
	t0 := h.clock.Now()
	h.write(t, view, statsRow(1, t0))
	steps := []struct {
		after time.Duration
		want  almanacv1.FieldStatus
	}{
		{0, almanacv1.FieldStatus_PRESENT},
		{30 * time.Minute, almanacv1.FieldStatus_PRESENT},
		{time.Hour, almanacv1.FieldStatus_PRESENT},
		{time.Hour + time.Millisecond, almanacv1.FieldStatus_OUTSIDE_MAX_AGE},
		{25 * time.Hour, almanacv1.FieldStatus_OUTSIDE_MAX_AGE},
	}
	for _, st := range steps {
		h.clock.set(t0.Add(st.after))
		rec := h.readOne(t, view, i64(1))
		checkRecord(t, fmt.Sprintf("after %v", st.after), rec, t0, statsValues(1, t0))
		for i := range view.Features {
			if got := online.Status(rec, i, view.TTL, h.clock.Now()); got != st.want {
				t.Errorf("after %v, feature %d: got status %v, want %v", st.after, i, got, st.want)
			}
		}
	}
}

func testExpiredNotWritten(t *testing.T, h *harness) {
	const ttl = time.Hour
	now := h.clock.Now()
	tests := []struct {
		name      string
		retention time.Duration
		age       time.Duration         // of the row when written
		want      almanacv1.FieldStatus // NOT_FOUND: not stored
	}{
		{"within the TTL", 0, ttl - time.Minute, almanacv1.FieldStatus_PRESENT},
		{"past the TTL, retention 0", 0, ttl + time.Millisecond, almanacv1.FieldStatus_NOT_FOUND},
		{"past the TTL, within the retention", 2 * time.Hour, ttl + time.Millisecond, almanacv1.FieldStatus_OUTSIDE_MAX_AGE},
		{"near the end of the retention", 2 * time.Hour, ttl + 2*time.Hour - time.Minute, almanacv1.FieldStatus_OUTSIDE_MAX_AGE},
		{"past the retention", 2 * time.Hour, ttl + 2*time.Hour + time.Millisecond, almanacv1.FieldStatus_NOT_FOUND},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view := statsView(fmt.Sprintf("stats_%d", i), ttl)
			view.StaleRetention = tt.retention
			at := now.Add(-tt.age)
			h.write(t, view, statsRow(1, at))
			rec := h.readOne(t, view, i64(1))
			if tt.want == almanacv1.FieldStatus_NOT_FOUND {
				checkNotFound(t, "row written", rec)
				return
			}
			checkStatus(t, "row written", rec, view, 1, at, now, tt.want)
		})
	}
}

// checkStatus checks that got is the record of entity id of view at time at
// (statsRow's), and that every feature reads status want at now.
func checkStatus(t *testing.T, what string, got online.Record, view *online.View, id int64, at, now time.Time, want almanacv1.FieldStatus) {
	t.Helper()
	checkRecord(t, what, got, at, statsValues(id, at))
	for i := range view.Features {
		if st := online.Status(got, i, view.TTL, now); st != want {
			t.Errorf("%s, feature %d: got status %v, want %v", what, i, st, want)
		}
	}
}

func testPhysicalExpiry(t *testing.T, h *harness) {
	const ttl = 500 * time.Millisecond
	short := statsView("short", ttl) // stale retention 0: removed at the TTL
	stale := statsView("stale", ttl)
	stale.StaleRetention = 3 * ttl
	long := statsView("long", time.Hour)
	forever := statsView("forever", 0)
	// Real time, for backends that expire records by their own clock.
	at := time.Now().Truncate(time.Millisecond)
	h.clock.set(at)
	h.write(t, short, statsRow(1, at))
	h.write(t, stale, statsRow(1, at.Add(-time.Millisecond)))
	h.write(t, stale, statsRow(1, at)) // replacing a record sets its expiry again
	h.write(t, long, statsRow(1, at))
	h.write(t, forever, statsRow(1, at.Add(-100*24*time.Hour)))
	lookups := []online.Lookup{{View: short, Key: key(i64(1))}, {View: stale, Key: key(i64(1))},
		{View: long, Key: key(i64(1))}, {View: forever, Key: key(i64(1))}}
	checkRecord(t, "before expiry", h.read(t, lookups...)[0], at, statsValues(1, at))

	// Past the TTL: the record without stale retention is removed, the
	// other stays, stale.
	h.expire(t, at.Add(ttl+time.Millisecond), 1)
	recs := h.read(t, lookups...)
	checkNotFound(t, "past the TTL, retention 0", recs[0])
	checkStatus(t, "past the TTL, within the retention", recs[1], stale, 1, at, h.clock.Now(), almanacv1.FieldStatus_OUTSIDE_MAX_AGE)
	checkRecord(t, "not expired", recs[2], at, statsValues(1, at))

	// Past the TTL and the retention: the stale record is removed too.
	h.expire(t, at.Add(ttl+stale.StaleRetention+time.Millisecond), 1)
	recs = h.read(t, lookups...)
	checkNotFound(t, "past the retention", recs[1])
	checkRecord(t, "not expired, later", recs[2], at, statsValues(1, at))
	checkRecord(t, "view without TTL", recs[3], at.Add(-100*24*time.Hour), statsValues(1, at.Add(-100*24*time.Hour)))
}

// expire moves the clock to until, and has the store remove what is expired
// by then: a Sweeper by sweeping, when it must remove swept records, and
// any other store by waiting for real time to pass until, as the backend's
// clock is the same machine's.
func (h *harness) expire(t *testing.T, until time.Time, swept int) {
	t.Helper()
	h.clock.set(until)
	if sw, ok := h.Store.(Sweeper); ok {
		n, err := sw.Sweep(h.ctx)
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
		if n != swept {
			t.Errorf("got %d records swept, want %d", n, swept)
		}
		return
	}
	time.Sleep(time.Until(until.Add(10 * time.Millisecond)))
}

func testManyViews(t *testing.T, h *harness) {
	now := h.clock.Now()
	const views = 20
	var lookups []online.Lookup
	var want [][]*almanacv1.Value
	for v := range views {
		view := &online.View{Name: fmt.Sprintf("view_%02d", v)}
		var row online.Row
		row.Key, row.EventTime = key(i64(42)), now.Add(time.Duration(v)*time.Millisecond)
		for f := range v%5 + 1 {
			typ := []registry.Type{registry.TypeInt64, registry.TypeString, registry.TypeFloat64, registry.ListOf(registry.Float32), registry.TypeBool}[f]
			view.Features = append(view.Features, registry.Field{Name: fmt.Sprintf("f%d", f), Type: typ})
			row.Values = append(row.Values, []*almanacv1.Value{
				i64(int64(v)), str(view.Name), f64(float64(v) / 3),
				{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{float32(v), 1}}}}, boolean(v%2 == 0),
			}[f])
		}
		h.write(t, view, row, online.Row{Key: key(i64(43)), EventTime: now, Values: row.Values})
		lookups = append(lookups, online.Lookup{View: view, Key: row.Key})
		want = append(want, row.Values)
	}
	recs := h.read(t, lookups...)
	for v := range views {
		checkRecord(t, lookups[v].View.Name, recs[v], now.Add(time.Duration(v)*time.Millisecond), want[v])
	}
}

func testCompositeKeys(t *testing.T, h *harness) {
	view := &online.View{Name: "driver_city", Features: []registry.Field{{Name: "trips", Type: registry.TypeInt64}}}
	now := h.clock.Now()
	row := func(id int64, city string, trips int64) online.Row {
		return online.Row{Key: key(i64(id), str(city)), EventTime: now, Values: []*almanacv1.Value{i64(trips)}}
	}
	h.write(t, view, row(1, "nyc", 10), row(1, "sf", 11), row(2, "nyc", 20), row(12, "", 120), row(1, "2nyc", 12))
	tests := []struct {
		name string
		key  []*almanacv1.Value
		want int64 // 0: not found
	}{
		{"first", key(i64(1), str("nyc")), 10},
		{"same id, other city", key(i64(1), str("sf")), 11},
		{"same city, other id", key(i64(2), str("nyc")), 20},
		{"empty string part", key(i64(12), str("")), 120},
		{"digits moved between parts", key(i64(1), str("2nyc")), 12},
		{"int32 id reads the int64 id", key(i32(1), str("nyc")), 10},
		{"missing combination", key(i64(2), str("sf")), 0},
		{"parts swapped", key(str("nyc"), i64(1)), 0},
		{"one part only", key(i64(1)), 0},
	}
	lookups := make([]online.Lookup, len(tests))
	for i, tt := range tests {
		lookups[i] = online.Lookup{View: view, Key: tt.key}
	}
	recs := h.read(t, lookups...)
	for i, tt := range tests {
		if tt.want == 0 {
			checkNotFound(t, tt.name, recs[i])
			continue
		}
		checkRecord(t, tt.name, recs[i], now, []*almanacv1.Value{i64(tt.want)})
	}
}

func testKeyValues(t *testing.T, h *harness) {
	view := &online.View{Name: "things", Features: []registry.Field{{Name: "n", Type: registry.TypeInt64}}}
	now := h.clock.Now()
	keys := [][]*almanacv1.Value{
		key(i64(0)), key(i64(-1)), key(i64(math.MinInt64)), key(i64(math.MaxInt64)),
		key(str("")), key(str("{")), key(str("}")), key(str("{}")), key(str("a}b{c")), key(str(":")),
		key(str("東京")), key(str("a\x00b")), key(byt(nil)), key(byt([]byte{0})), key(byt([]byte{0xff, '}'})),
		key(byt([]byte("0"))), key(str("0")),
	}
	var rows []online.Row
	var lookups []online.Lookup
	for i, k := range keys {
		rows = append(rows, online.Row{Key: k, EventTime: now, Values: []*almanacv1.Value{i64(int64(i))}})
		lookups = append(lookups, online.Lookup{View: view, Key: k})
	}
	h.write(t, view, rows...)
	recs := h.read(t, lookups...)
	for i := range keys {
		checkRecord(t, fmt.Sprintf("key %v", keys[i]), recs[i], now, []*almanacv1.Value{i64(int64(i))})
	}
}

func testLargeBatch(t *testing.T, h *harness) {
	const n = 10_000
	a, b := statsView("stats_a", 0), statsView("stats_b", 0)
	now := h.clock.Now()
	rows := make([]online.Row, n)
	for i := range rows {
		rows[i] = statsRow(int64(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	h.write(t, a, rows...)
	h.write(t, b, rows[:n/2]...)
	lookups := make([]online.Lookup, n)
	for i := range lookups {
		view := a
		if i%2 == 1 {
			view = b
		}
		lookups[i] = online.Lookup{View: view, Key: key(i64(int64(i)))}
	}
	recs := h.read(t, lookups...)
	for i, rec := range recs {
		if i%2 == 1 && i >= n/2 {
			checkNotFound(t, fmt.Sprintf("lookup %d", i), rec)
			continue
		}
		checkRecord(t, fmt.Sprintf("lookup %d", i), rec, rows[i].EventTime, rows[i].Values)
		if t.Failed() {
			return
		}
	}
}

func testDuplicateLookups(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	now := h.clock.Now()
	h.write(t, view, statsRow(1, now))
	l := online.Lookup{View: view, Key: key(i64(1))}
	recs := h.read(t, l, l)
	checkRecord(t, "first", recs[0], now, statsValues(1, now))
	recs[0].Values[0] = nil // the caller owns the records
	checkRecord(t, "second", recs[1], now, statsValues(1, now))
}

func testInvalidRows(t *testing.T, h *harness) {
	view := &online.View{Name: "driver_stats", TTL: time.Hour, Features: []registry.Field{
		{Name: "conv_rate", Type: registry.TypeFloat64},
		{Name: "trips", Type: registry.ListOf(registry.Int64)},
		{Name: "city", Type: registry.TypeString},
	}}
	now := h.clock.Now()
	good := online.Row{Key: key(i64(1)), EventTime: now, Values: []*almanacv1.Value{f64(0.5), nil, str("nyc")}}
	tests := []struct {
		name string
		bad  online.Row
		want string
	}{
		{"wrong type", online.Row{Key: key(i64(2)), EventTime: now, Values: []*almanacv1.Value{i64(1), nil, nil}},
			`view "driver_stats", feature "conv_rate": value is int64 1, want float64`},
		{"scalar for list", online.Row{Key: key(i64(2)), EventTime: now, Values: []*almanacv1.Value{nil, i64(1), nil}},
			`feature "trips": value is int64 1, want list<int64>`},
		{"too few values", online.Row{Key: key(i64(2)), EventTime: now, Values: []*almanacv1.Value{f64(1)}},
			`view "driver_stats": 1 values for 3 features`},
		{"too many values", online.Row{Key: key(i64(2)), EventTime: now, Values: []*almanacv1.Value{f64(1), nil, nil, nil}},
			`4 values for 3 features`},
		{"invalid UTF-8", online.Row{Key: key(i64(2)), EventTime: now, Values: []*almanacv1.Value{nil, nil, str("\xff")}},
			`feature "city": string is not valid UTF-8`},
		{"null key", online.Row{Key: key(nil), EventTime: now, Values: []*almanacv1.Value{nil, nil, nil}},
			`join key 0 is null`},
		{"float key", online.Row{Key: key(f64(1)), EventTime: now, Values: []*almanacv1.Value{nil, nil, nil}},
			`join key 0 is float64`},
		{"no event time", online.Row{Key: key(i64(2)), Values: []*almanacv1.Value{nil, nil, nil}},
			`the event time is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.Write(h.ctx, *view, []online.Row{good, tt.bad})
			if !errors.Is(err, online.ErrInvalid) {
				t.Fatalf("got error %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
			checkNotFound(t, "the valid row before the invalid one", h.readOne(t, view, i64(1)))
		})
	}
	if _, err := h.Read(h.ctx, []online.Lookup{{View: view, Key: key(f32(1))}}); !errors.Is(err, online.ErrInvalid) {
		t.Errorf("read with a float32 key: got error %v, want ErrInvalid", err)
	}
}

func testSchemaChange(t *testing.T, h *harness) {
	before := &online.View{Name: "stats", Features: []registry.Field{{Name: "score", Type: registry.TypeFloat64}}}
	after := &online.View{Name: "stats", Features: []registry.Field{{Name: "score", Type: registry.TypeFloat64}, {Name: "trips", Type: registry.TypeInt64}}}
	now := h.clock.Now()
	h.write(t, before, online.Row{Key: key(i64(1)), EventTime: now, Values: []*almanacv1.Value{f64(1)}})
	checkNotFound(t, "record of the old schema", h.readOne(t, after, i64(1)))
	older := now.Add(-time.Hour)
	h.write(t, after, online.Row{Key: key(i64(1)), EventTime: older, Values: []*almanacv1.Value{f64(2), i64(3)}})
	checkRecord(t, "older record of the new schema", h.readOne(t, after, i64(1)), older, []*almanacv1.Value{f64(2), i64(3)})
	checkNotFound(t, "read with the old schema", h.readOne(t, before, i64(1)))
}

// testReadEncoded checks that online.ReadEncoded, through the store's own
// ReadEncoded when it has one, returns records that decode to what Read
// returns: found, not found, null values and another schema's record.
func testReadEncoded(t *testing.T, h *harness) {
	if _, ok := h.Store.(online.EncodedReader); !ok {
		t.Log("the store has no ReadEncoded of its own: checking online.ReadEncoded's fallback")
	}
	view := statsView("stats", time.Hour)
	other := &online.View{Name: "stats", Features: view.Features[:1]}
	now := h.clock.Now()
	var lookups []online.Lookup
	for id := range int64(20) {
		row := statsRow(id, now.Add(-time.Duration(id)*time.Minute))
		if id%3 == 0 {
			row.Values[id%3] = nil
		}
		h.write(t, view, row)
		lookups = append(lookups, online.Lookup{View: view, Key: key(i64(id))}, online.Lookup{View: other, Key: key(i64(id))})
	}
	lookups = append(lookups, online.Lookup{View: view, Key: key(i64(99))}, online.Lookup{View: statsView("never_written", 0), Key: key(i64(1))})
	want := h.read(t, lookups...)
	encoded, err := online.ReadEncoded(h.ctx, h.Store, lookups)
	if err != nil {
		t.Fatalf("ReadEncoded: %v", err)
	}
	got, err := online.DecodeAll(lookups, encoded, func(i int) string { return fmt.Sprint("lookup ", i) })
	if err != nil {
		t.Fatalf("decode what ReadEncoded returned: %v", err)
	}
	for i := range want {
		what := fmt.Sprintf("lookup %d (view %q with %d features)", i, lookups[i].View.Name, len(lookups[i].View.Features))
		if !want[i].Found {
			checkNotFound(t, what, got[i])
			continue
		}
		checkRecord(t, what, got[i], want[i].EventTime, want[i].Values)
	}
}

// testWriteEncoded checks that rows written encoded, through the store's
// own WriteEncoded when it has one, read back as written, newer winning and
// TTL applying as with Write; and that a batch holding a record of another
// schema is refused whole.
func testWriteEncoded(t *testing.T, h *harness) {
	view := statsView("stats", time.Hour)
	now := h.clock.Now()
	encode := func(rows ...online.Row) []online.EncodedRow {
		t.Helper()
		enc, err := online.EncodeRows(view, rows)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	if err := online.WriteEncoded(h.ctx, h.Store, *view, encode(statsRow(1, now), statsRow(2, now.Add(-time.Minute)), statsRow(3, now.Add(-2*time.Hour)))); err != nil {
		t.Fatalf("WriteEncoded: %v", err)
	}
	// Older rows lose, newer ones win, as with Write.
	if err := online.WriteEncoded(h.ctx, h.Store, *view, encode(statsRow(1, now.Add(-time.Second)), statsRow(2, now))); err != nil {
		t.Fatalf("WriteEncoded: %v", err)
	}
	checkRecord(t, "entity 1, older row written second", h.readOne(t, view, i64(1)), now, statsValues(1, now))
	checkRecord(t, "entity 2, newer row written second", h.readOne(t, view, i64(2)), now, statsValues(2, now))
	checkNotFound(t, "entity 3, expired when written", h.readOne(t, view, i64(3)))

	other := &online.View{Name: "stats", Features: view.Features[:1]}
	foreign, err := online.EncodeRows(other, []online.Row{{Key: key(i64(4)), EventTime: now, Values: []*almanacv1.Value{f64(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	err = online.WriteEncoded(h.ctx, h.Store, *view, append(encode(statsRow(5, now)), foreign...))
	if !errors.Is(err, online.ErrInvalid) {
		t.Fatalf("WriteEncoded with a record of another schema: got %v, want ErrInvalid", err)
	}
	checkNotFound(t, "entity 5, in the refused batch", h.readOne(t, view, i64(5)))
}

func testEmptyCalls(t *testing.T, h *harness) {
	if err := h.Write(h.ctx, *statsView("stats", 0), nil); err != nil {
		t.Errorf("write no rows: %v", err)
	}
	recs, err := h.Read(h.ctx, nil)
	if err != nil || len(recs) != 0 {
		t.Errorf("read no lookups: got %v, %v, want no records and no error", recs, err)
	}
}

func testCanceledContext(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if err := h.Write(ctx, *view, []online.Row{statsRow(1, h.clock.Now())}); !errors.Is(err, context.Canceled) {
		t.Errorf("write: got error %v, want context.Canceled", err)
	}
	if _, err := h.Read(ctx, []online.Lookup{{View: view, Key: key(i64(1))}}); !errors.Is(err, context.Canceled) {
		t.Errorf("read: got error %v, want context.Canceled", err)
	}
}

func testClose(t *testing.T, h *harness) {
	view := statsView("stats", 0)
	h.write(t, view, statsRow(1, h.clock.Now()))
	if err := h.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := h.Write(h.ctx, *view, []online.Row{statsRow(1, h.clock.Now())}); !errors.Is(err, online.ErrClosed) {
		t.Errorf("write after close: got error %v, want ErrClosed", err)
	}
	if _, err := h.Read(h.ctx, []online.Lookup{{View: view, Key: key(i64(1))}}); !errors.Is(err, online.ErrClosed) {
		t.Errorf("read after close: got error %v, want ErrClosed", err)
	}
	if err := h.Close(); !errors.Is(err, online.ErrClosed) {
		t.Errorf("second close: got error %v, want ErrClosed", err)
	}
}
