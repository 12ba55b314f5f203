package pipelines

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// tileBatch is how many entities one online Update of tiles carries.
const tileBatch = 2000

// tileColumns are the columns of the tiles query after the join keys: the
// entity's rows up to now and its first and last event times (over its
// whole history up to now), then of one row in the windows' reach (nulls when it has none)
// its event time, created time (null for none) and position in the
// history, all in ms but the position; the aggregated columns follow.
const tileColumns = 6

// writeTiles writes to the online store the tiles (window.Set) of each
// entity of the aggregated view v with rows in the rows table at or before
// now, the time the run read its source, replacing the record the store
// holds. The tiles are computed from the view's committed offline history,
// pushed rows included: every row of the entity up to now, or, when no
// feature is a lifetime, the rows from the earliest start of its windows
// at now, then trimmed at now. Rows after now are left out; they enter
// the tiles when a later run reads them. It returns the entities written.
func (m *Materializer) writeTiles(ctx context.Context, conn *sql.Conn, v *registry.FeatureView, keys []registry.Field, ts string, stored []registry.Field, now time.Time) (int64, error) {
	up, ok := m.Online.(online.Updater)
	if !ok {
		return 0, fmt.Errorf("the online store (%T) cannot hold window tiles: it does not update records in place", m.Online)
	}
	// A row of the tiles query: the join keys, tileColumns, then the
	// columns aggregated, each as almanac_c<i>, of the types rowTypes has
	// in their places. min, max, last and last_n read their column as
	// their features' type, which keeps its values, the others as it is
	// stored. aggCol[i] is the place of aggregation i's column, -1 for a
	// count of rows.
	var cols, keyIdents, sel []string
	rowTypes := make([]registry.Type, len(keys)+tileColumns)
	for i, k := range keys {
		cols = append(cols, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(k.Name), duck.TypeName(k.Type)))
		keyIdents = append(keyIdents, duck.Ident(k.Name))
		sel = append(sel, "f."+keyIdents[i])
		rowTypes[i] = k.Type
	}
	sel = append(sel, "f.almanac_n", "f.almanac_first", "f.almanac_last", "w.almanac_ms", "w.almanac_created", "w.almanac_tie")
	fields := append(slices.Clone(keys), stored...)
	aggCol := make([]int, len(v.Aggregations))
	for i, a := range v.Aggregations {
		if a.Column == "" {
			aggCol[i] = -1
			continue
		}
		t := registry.TypeTimestamp // the event or created time, which stored leaves out
		if j := slices.IndexFunc(fields, func(f registry.Field) bool { return f.Name == a.Column }); j >= 0 {
			t = fields[j].Type
		}
		switch a.Function {
		case registry.AggMin, registry.AggMax, registry.AggLast, registry.AggLastN:
			j := slices.IndexFunc(v.Windows, func(f registry.WindowFeature) bool { return f.Aggregation == i })
			t = registry.Type{Elem: v.Windows[j].Type.Elem}
		}
		col := fmt.Sprintf("CAST(%s AS %s)", duck.Ident(a.Column), duck.TypeName(t))
		j := slices.Index(cols, col)
		if j < 0 {
			cols, rowTypes = append(cols, col), append(rowTypes, t)
			j = len(cols) - 1
		}
		aggCol[i] = j + tileColumns
	}
	for j := range cols[len(keys):] {
		cols[len(keys)+j] += fmt.Sprintf(" AS almanac_c%d", j)
		sel = append(sel, fmt.Sprintf("w.almanac_c%d", j))
	}

	from := time.Time{}
	lifetime := slices.ContainsFunc(v.Windows, func(f registry.WindowFeature) bool { return f.Window.Span == registry.Lifetime })
	if !lifetime {
		for _, f := range v.Windows {
			if st, _ := f.Window.Start(now); from.IsZero() || st.Before(from) {
				from = st
			}
		}
	}
	all, created, found, err := m.Offline.ViewRows(ctx, conn, v.Name, cols, time.Time{}, now)
	if err != nil || !found {
		return 0, err
	}
	// The pushes whose appends the rows may hold: a record remembers them,
	// so that their online merges, if still to come, count nothing more.
	// Read after the rows, the snapshot holds those the rows hold, and
	// perhaps later ones, which are then not merged online until the next
	// run (see tileWriter.write).
	snap, err := m.Offline.Snapshot(v.Name)
	if err != nil {
		return 0, fmt.Errorf("read the pushes of view %q: %w", v.Name, err)
	}
	createdMs := "NULL"
	if created {
		createdMs = "CASE WHEN isfinite(almanac_key.created) THEN epoch_ms(almanac_key.created) END"
	}
	inReach := "r"
	if !from.IsZero() {
		inReach = fmt.Sprintf("(SELECT * FROM r WHERE almanac_ts >= CAST(%s AS TIMESTAMPTZ))", duck.Quote(from.Format(time.RFC3339Nano)))
	}
	entities := fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s <= CAST(%s AS TIMESTAMPTZ)",
		strings.Join(keyIdents, ", "), rowsTable, duck.Ident(ts), duck.Quote(now.Format(time.RFC3339Nano)))
	q := fmt.Sprintf(`WITH r AS (%[1]s),
f AS (SELECT %[2]s, count(*) AS almanac_n, epoch_ms(min(almanac_ts)) AS almanac_first, epoch_ms(max(almanac_ts)) AS almanac_last FROM r JOIN (%[3]s) USING (%[2]s) GROUP BY ALL),
w AS (SELECT *, epoch_ms(almanac_ts) AS almanac_ms, %[4]s AS almanac_created, struct_extract(almanac_key, 'tie') AS almanac_tie FROM %[5]s)
SELECT %[6]s FROM f LEFT JOIN w USING (%[2]s) ORDER BY %[2]s, w.almanac_key`,
		all, strings.Join(keyIdents, ", "), entities, createdMs, inReach, strings.Join(sel, ", "))

	var total int64
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (%s)", entities)).Scan(&total); err != nil {
		return 0, fmt.Errorf("count entities: %w", err)
	}
	m.report(Progress{View: v.Name, Phase: PhaseOnline, Total: total})

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan *scanBatch)
	free := make(chan *scanBatch, 2)
	scanned := make(chan error, 1)
	go func() {
		scanned <- scanBatches(ctx, conn, q, len(sel), batches, free)
		close(batches)
	}()
	w := tileWriter{
		store: up, view: online.ViewOf(v), features: v.Windows, now: now, pushes: snap.Appended[max(0, len(snap.Appended)-window.MaxPushIDs):],
		aggs: window.Aggs(v.Aggregations, v.Windows), keys: keys, aggCol: aggCol, rowTypes: rowTypes,
		progress: func(n int64) { m.report(Progress{View: v.Name, Phase: PhaseOnline, Rows: n, Total: total}) },
	}
	w.codec = window.NewCodec(w.aggs, w.features)
	for b := range batches {
		if ctx.Err() == nil {
			if err := w.add(ctx, b.rows); err != nil {
				cancel(err)
			}
		}
		free <- b
	}
	if err := <-scanned; err != nil && ctx.Err() == nil {
		return w.written, fmt.Errorf("select the rows of the tiles: %w", err)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return w.written, err
	}
	if err := w.flush(ctx); err != nil {
		return w.written, err
	}
	return w.written, ctx.Err()
}

// tileWriter builds the tiles of entities from the rows of the tiles query,
// which come grouped by entity, and writes them in batches.
type tileWriter struct {
	store    online.Updater
	view     online.View
	codec    *window.Codec
	aggs     []window.Agg
	features []registry.WindowFeature
	now      time.Time
	keys     []registry.Field
	aggCol   []int           // see writeTiles
	rowTypes []registry.Type // see writeTiles
	pushes   []string        // the ids of the latest pushes the rows hold
	progress func(written int64)

	cur     []driver.Value // the join key values of the entity being built
	rows    int64          // its rows up to now
	first   int64          // its first event time, ms
	last    int64          // its last event time up to now, ms
	set     window.Set     // its tiles so far
	vals    []*almanacv1.Value
	pending [][]*almanacv1.Value // the keys of the records to write
	records []string
	buf     []byte
	written int64
}

// add takes scanned rows of the tiles query.
func (w *tileWriter) add(ctx context.Context, rows [][]driver.Value) error {
	nk := len(w.keys)
	for _, row := range rows {
		if w.cur == nil || !sameKey(w.cur, row[:nk]) {
			if err := w.finish(ctx); err != nil {
				return err
			}
			var ok1, ok2, ok3 bool
			w.rows, ok1 = row[nk].(int64)
			w.first, ok2 = row[nk+1].(int64)
			w.last, ok3 = row[nk+2].(int64)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("the tiles query gave a count of rows %T and first and last event times %T, %T, not integers", row[nk], row[nk+1], row[nk+2])
			}
			w.cur = slices.Clone(row[:nk])
			w.set = window.NewSet(w.features)
		}
		ms, ok := row[nk+3].(int64)
		if !ok {
			continue // the entity has no row in the windows' reach
		}
		at := window.Order{Time: ms, Created: window.NoCreated}
		if c, ok := row[nk+4].(int64); ok {
			at.Created = c
		}
		if at.Seq, ok = row[nk+5].(int64); !ok {
			return fmt.Errorf("the tiles query gave a row position %T, not an integer", row[nk+5])
		}
		w.vals = w.vals[:0]
		for _, c := range w.aggCol {
			var v *almanacv1.Value
			if c >= 0 {
				var err error
				if v, err = values.FromGo(row[c], w.rowTypes[c]); err != nil {
					return fmt.Errorf("read an aggregated column: %w", err)
				}
			}
			w.vals = append(w.vals, v)
		}
		w.set.Add(w.aggs, window.Row{At: at, Values: w.vals})
	}
	return nil
}

// finish adds the record of the entity being built, if any, to the
// records to write, and writes them when they make a batch.
func (w *tileWriter) finish(ctx context.Context) error {
	if w.cur == nil {
		return nil
	}
	key := make([]*almanacv1.Value, len(w.keys))
	for i, k := range w.keys {
		var err error
		if key[i], err = values.FromGo(w.cur[i], k.Type); err != nil {
			return fmt.Errorf("join key %q: %w", k.Name, err)
		}
	}
	// The counts are of every row up to now, which the windows' reach may
	// leave out: an entity whose rows all left its windows reads 0, not
	// not-found.
	w.set.Rows, w.set.First, w.set.Last = w.rows, w.first, w.last
	w.set.Remember(w.pushes...)
	w.set.Trim(w.features, w.now)
	var err error
	if w.buf, err = w.codec.AppendSet(w.buf[:0], &w.set); err != nil {
		return fmt.Errorf("encode the tiles of %v: %w", key, err)
	}
	w.cur = nil
	w.pending = append(w.pending, key)
	w.records = append(w.records, string(w.buf))
	if len(w.pending) >= tileBatch {
		return w.write(ctx)
	}
	return nil
}

// flush writes the records of the entities taken so far.
func (w *tileWriter) flush(ctx context.Context) error {
	if err := w.finish(ctx); err != nil {
		return err
	}
	return w.write(ctx)
}

// write writes the pending records, replacing what the store holds:
// materialization recomputes them from the whole offline history, which
// holds the pushed rows too. Of the record replaced it keeps the push ids
// it remembers and its pending rows after now, which the history's rows
// up to now leave out. A push committed offline after the run read the
// history's snapshot, and merged online before the record is replaced,
// is lost online until the next run.
func (w *tileWriter) write(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.store.Update(ctx, w.view, w.pending, w.replace)
	if err != nil {
		return fmt.Errorf("write tiles: %w", err)
	}
	w.written += int64(len(w.pending))
	w.pending, w.records = w.pending[:0], w.records[:0]
	w.progress(w.written)
	return nil
}

// replace returns the record to write for pending record i over old, the
// record the store holds. It changes nothing in w: Update may call it more
// than once.
func (w *tileWriter) replace(i int, old string) (string, error) {
	if old == "" {
		return w.records[i], nil
	}
	var prev window.Set
	if found, err := w.codec.DecodeSet(&prev, old); err != nil || !found {
		return w.records[i], nil // unreadable: replaced whole
	}
	ms := w.now.UnixMilli()
	later := slices.DeleteFunc(prev.Pending, func(r window.Row) bool { return r.At.Time <= ms })
	if len(later) == 0 && len(prev.Pushes) == 0 {
		return w.records[i], nil
	}
	var set window.Set
	if _, err := w.codec.DecodeSet(&set, w.records[i]); err != nil {
		return "", fmt.Errorf("read the tiles of %v back: %w", w.pending[i], err)
	}
	set.Pending = later
	set.Pushes = prev.Pushes
	set.Remember(w.pushes...)
	rec, err := w.codec.AppendSet(nil, &set)
	if err != nil {
		return "", fmt.Errorf("encode the tiles of %v: %w", w.pending[i], err)
	}
	return string(rec), nil
}

// sameKey reports whether the scanned join key values a and b are equal.
func sameKey(a, b []driver.Value) bool {
	for i := range a {
		if x, ok := a[i].([]byte); ok {
			if y, ok := b[i].([]byte); !ok || !bytes.Equal(x, y) {
				return false
			}
			continue
		}
		if _, ok := b[i].([]byte); ok || a[i] != b[i] {
			return false
		}
	}
	return true
}
