package pipelines

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// Materializer runs feature views over their sources and writes the results
// to the offline store, and the latest row of each entity to the online
// store. It is safe for use by one goroutine at a time.
type Materializer struct {
	Config  *registry.Config
	Defs    *registry.Definitions
	Offline *offline.Store
	// DB runs the views' SQL: open it with OpenDB, which locks it to the
	// files materializing needs.
	DB *duck.DB
	// Online, when set, receives the latest row of each entity of each
	// view with online: true, or for a view with window aggregations the
	// entity's tiles (it must then implement online.Updater).
	Online online.Store
	// Strict makes a broken data-quality expectation fail a view's run
	// before anything is written; otherwise violations are reported and
	// recorded with the run.
	Strict bool
	// Progress, if set, is told how each view's run advances.
	Progress func(Progress)
	// Now is the clock of the runs; nil means time.Now. A view's watermark
	// never passes the time its run read its source: rows with later event
	// times can still arrive, and the next incremental run must read them.
	Now func() time.Time
}

// Progress is the state of one view's run.
type Progress struct {
	View        string
	Phase       Phase
	Rows, Total int64 // rows written so far and in all, in PhaseWriting and PhaseDone
}

// Phase is a step of a view's run.
type Phase string

// The phases of a view's run, in order.
const (
	PhaseComputing Phase = "computing" // running the view's query over its source
	PhaseWriting   Phase = "writing"   // writing partitions to the offline store
	PhaseOnline    Phase = "online"    // writing the latest rows or tiles to the online store
	PhaseDone      Phase = "done"
)

// Result is what a run did to one view.
type Result struct {
	View        string    `json:"view"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	RowsWritten int64     `json:"rows_written"`
	RowsDropped int64     `json:"rows_dropped"`
	Partitions  int       `json:"partitions"`
	OnlineRows  int64     `json:"online_rows"`       // entities written to the online store
	Skipped     string    `json:"skipped,omitempty"` // why nothing was done
	// Violations are the data-quality expectations the rows broke.
	Violations []offline.Violation `json:"violations,omitempty"`
	Seconds    float64             `json:"seconds"`
}

// ErrExpectations is returned by a strict run whose rows break the view's
// data-quality expectations.
var ErrExpectations = errors.New("data-quality expectations broken")

// Views resolves names to feature views; no names means every view.
func Views(defs *registry.Definitions, names []string) ([]*registry.FeatureView, error) {
	if len(names) == 0 {
		return defs.Views, nil
	}
	out := make([]*registry.FeatureView, 0, len(names))
	for _, n := range names {
		v, err := defs.LookupView(n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Run materializes the event times [start, end) of views.
func (m *Materializer) Run(ctx context.Context, views []*registry.FeatureView, start, end time.Time) ([]Result, error) {
	if !start.Before(end) {
		return nil, fmt.Errorf("materialize: start %s is not before end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	var results []Result
	for _, v := range views {
		r, err := m.view(ctx, v, start, end)
		if err != nil {
			return withFailed(results, r), err
		}
		results = append(results, r)
	}
	return results, nil
}

// withFailed adds the result of a failed view's run when it has something
// to report: the expectations that failed a strict run.
func withFailed(results []Result, r Result) []Result {
	if len(r.Violations) > 0 {
		return append(results, r)
	}
	return results
}

// RunIncremental materializes each view from its watermark (the end of its
// last materialized range, or its first event when it has none) to end.
// A watermark after now, which an older almanac recorded for a future end,
// counts as none.
func (m *Materializer) RunIncremental(ctx context.Context, views []*registry.FeatureView, end time.Time) ([]Result, error) {
	var results []Result
	for _, v := range views {
		start, skip, err := m.watermark(ctx, v, m.now())
		if err != nil {
			return results, err
		}
		if skip == "" && !start.Before(end) {
			skip = fmt.Sprintf("up to date (watermark %s)", start.Format(time.RFC3339))
		}
		if skip != "" {
			results = append(results, Result{View: v.Name, Start: start, End: end, Skipped: skip})
			continue
		}
		r, err := m.view(ctx, v, start, end)
		if err != nil {
			return withFailed(results, r), err
		}
		results = append(results, r)
	}
	return results, nil
}

// watermark returns where an incremental run of v at the time now starts.
func (m *Materializer) watermark(ctx context.Context, v *registry.FeatureView, now time.Time) (time.Time, string, error) {
	snap, err := m.Offline.Snapshot(v.Name)
	if err == nil {
		// A watermark after now was recorded by an almanac that took a
		// future end for it: what that run covered is unknown, so the run
		// starts over from the first event. Its write drops that range.
		if w := snap.Watermark(); !w.IsZero() && !w.After(now) {
			return w, "", nil
		}
	} else if !errors.Is(err, offline.ErrNoData) {
		return time.Time{}, "", err
	}
	q, skip, err := m.input(ctx, v)
	if err != nil || skip != "" {
		return time.Time{}, skip, err
	}
	var first *time.Time
	ts := duck.Ident(m.Defs.TimestampField(v))
	err = bounded(ctx, m.Config, func(ctx context.Context) error {
		return m.DB.QueryRowContext(ctx, fmt.Sprintf("SELECT min(CAST(%s AS TIMESTAMPTZ)) FROM (%s)", ts, q)).Scan(&first)
	})
	if err != nil {
		return time.Time{}, "", fmt.Errorf("feature view %q: find its first event: %w", v.Name, err)
	}
	if first == nil {
		return time.Time{}, "source has no rows", nil
	}
	return first.UTC(), "", nil
}

// input returns the query of v's input rows, checked against its definition,
// or why v cannot be materialized from files.
func (m *Materializer) input(ctx context.Context, v *registry.FeatureView) (query, skip string, err error) {
	src := m.Defs.Source(v.Source)
	if !src.HasFiles() {
		return "", src.WithoutFiles(), nil
	}
	q, err := viewQuery(ctx, m.DB, v, func() (string, error) { return sourceRelation(m.Config, src) })
	if errors.Is(err, registry.ErrNoData) {
		return "", fmt.Sprintf("no files match %s", src.Path), nil
	}
	if err != nil {
		return "", "", err
	}
	return q, "", nil
}

const rowsTable = "almanac_rows"

// orderColumn numbers rows in the order they come, for the tie rule: of
// rows with the same join keys and event time, the one with the greatest
// created time wins, then the one that came last. No feature can have its
// name.
const orderColumn = "almanac$order"

// view materializes one view.
func (m *Materializer) view(ctx context.Context, v *registry.FeatureView, start, end time.Time) (Result, error) {
	began := time.Now()
	read := m.now()
	res := Result{View: v.Name, Start: start.UTC(), End: end.UTC()}
	q, skip, err := m.input(ctx, v)
	if err != nil || skip != "" {
		res.Skipped = skip
		return res, err
	}
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("feature view %q: %w", v.Name, err)
	}
	defer conn.Close()

	cols, err := describeInput(ctx, conn, m.Config, m.Defs.Source(v.Source), q, nil)
	if err != nil {
		return res, fmt.Errorf("feature view %q: run its query: %w", v.Name, err)
	}
	input := fmt.Sprintf("source %q", v.Source)
	if v.SQL != "" {
		input = "the result of sql"
	}
	if probs := m.Defs.CheckViewColumns(v, cols, input); len(probs) > 0 {
		return res, fmt.Errorf("materialize: %w", probs)
	}
	keys := m.Defs.JoinKeys(v)
	ts := m.Defs.TimestampField(v)
	created := ""
	if c := m.Defs.Source(v.Source).CreatedTimestampField; c != "" && hasColumn(cols, c) {
		created = c
	}
	stored, err := storedFields(v, keys, ts, created, cols, input)
	if err != nil {
		return res, fmt.Errorf("materialize: %w", err)
	}
	var sel, keyNames, nullCheck []string
	for _, k := range keys {
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(k.Name), duck.TypeName(k.Type)))
		keyNames = append(keyNames, k.Name)
		nullCheck = append(nullCheck, duck.Ident(k.Name)+" IS NULL")
	}
	sel = append(sel, fmt.Sprintf("CAST(%s AS TIMESTAMPTZ) AS %[1]s", duck.Ident(ts)))
	nullCheck = append(nullCheck, duck.Ident(ts)+" IS NULL", eventTimeOutOfRange(ts))
	if created != "" {
		sel = append(sel, fmt.Sprintf("CAST(%s AS TIMESTAMPTZ) AS %[1]s", duck.Ident(created)))
	}
	for _, f := range stored {
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(f.Name), duck.TypeName(f.Type)))
	}
	m.report(Progress{View: v.Name, Phase: PhaseComputing})
	// The rows keep the order of the query's result, numbered in
	// orderColumn: for SQL that only selects and filters, the files' order
	// (by path), then the order of rows within a file.
	create := fmt.Sprintf("CREATE OR REPLACE TEMP TABLE %s AS SELECT *, row_number() OVER () AS %s FROM (SELECT %s FROM (%s)) WHERE %s IS NULL OR (%[5]s >= ? AND %[5]s < ?)",
		rowsTable, duck.Ident(orderColumn), strings.Join(sel, ", "), q, duck.Ident(ts))
	err = bounded(ctx, m.Config, func(ctx context.Context) error {
		_, err := conn.ExecContext(ctx, create, start.UTC(), end.UTC())
		return err
	})
	if err != nil {
		return res, fmt.Errorf("feature view %q: compute rows: %w", v.Name, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+rowsTable)
	dropped, err := conn.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s", rowsTable, strings.Join(nullCheck, " OR ")))
	if err != nil {
		return res, fmt.Errorf("feature view %q: drop rows without keys or with event times out of range: %w", v.Name, err)
	}
	if res.RowsDropped, err = dropped.RowsAffected(); err != nil {
		return res, err
	}
	var total int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+rowsTable).Scan(&total); err != nil {
		return res, fmt.Errorf("feature view %q: count rows: %w", v.Name, err)
	}
	if res.Violations, err = checkExpectations(ctx, conn, v, total, res.RowsDropped); err != nil {
		return res, fmt.Errorf("feature view %q: %w", v.Name, err)
	}
	if m.Strict && len(res.Violations) > 0 {
		res.Skipped = "expectations broken, nothing written (strict)"
		return res, fmt.Errorf("%w: feature view %q, nothing written:\n%s", ErrExpectations, v.Name, formatViolations(v.Name, res.Violations))
	}
	m.report(Progress{View: v.Name, Phase: PhaseWriting, Total: total})
	snap, err := m.Offline.Write(ctx, offline.Batch{
		View: v.Name, Start: start, End: end, Until: read, Conn: conn, Table: rowsTable,
		TimestampColumn: ts, CreatedColumn: created, SortBy: keyNames, OrderColumn: orderColumn, RowsDropped: res.RowsDropped, Violations: res.Violations,
		Progress: func(rows int64) {
			m.report(Progress{View: v.Name, Phase: PhaseWriting, Rows: min(rows, total), Total: total})
		},
	})
	if err != nil {
		return res, err
	}
	res.RowsWritten = total
	res.Partitions = snap.LastRun.Partitions
	if m.Online != nil && v.Online {
		if v.Aggregated() {
			res.OnlineRows, err = m.writeTiles(ctx, conn, v, keys, ts, stored, read)
		} else {
			res.OnlineRows, err = m.writeOnline(ctx, conn, v, keyNames, ts, created)
		}
		if err != nil {
			return res, fmt.Errorf("feature view %q: the offline history is committed, but writing the online store failed (run again to finish): %w", v.Name, err)
		}
	}
	res.Seconds = time.Since(began).Seconds()
	m.report(Progress{View: v.Name, Phase: PhaseDone, Rows: total, Total: total})
	return res, nil
}

// onlineBatch is how many rows one online-store write carries, and
// onlineWriters how many writes run at once.
const (
	onlineBatch   = 1000
	onlineWriters = 4
)

// writeOnline writes the latest row of each entity in the rows table to the
// online store, in batches written concurrently: the row with the greatest
// event time, then created time, then order, the one export takes. The
// store keeps the newer of what it holds and what it gets (what it gets,
// when their event times are equal), so re-running is harmless.
func (m *Materializer) writeOnline(ctx context.Context, conn *sql.Conn, v *registry.FeatureView, keys []string, ts, created string) (int64, error) {
	order := duck.Ident(ts) + " DESC"
	if created != "" {
		order += ", " + duck.Ident(created) + " DESC NULLS LAST"
	}
	order += ", " + duck.Ident(orderColumn) + " DESC"
	part := make([]string, len(keys))
	for i, k := range keys {
		part[i] = duck.Ident(k)
	}
	cols := append(slices.Clone(part), duck.Ident(ts))
	for _, f := range v.Features {
		cols = append(cols, duck.Ident(f.Name))
	}
	q := fmt.Sprintf("SELECT %s FROM %s QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s) = 1",
		strings.Join(cols, ", "), rowsTable, strings.Join(part, ", "), order)
	var total int64
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT DISTINCT %s FROM %s)", strings.Join(part, ", "), rowsTable)).Scan(&total); err != nil {
		return 0, fmt.Errorf("count entities: %w", err)
	}
	m.report(Progress{View: v.Name, Phase: PhaseOnline, Total: total})

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	view := online.ViewOf(v)
	codec := online.CodecOf(&view)
	// The scanning goroutine only reads rows; the writers encode them and
	// write them, so encoding runs in parallel. Batches go back to the
	// scanner once written, and each writer keeps its encoding buffers, so
	// that the phase allocates little: with a small live heap, garbage
	// would cost more collection cycles than anything else here.
	keyTypes := m.Defs.JoinKeys(v)
	batches := make(chan *scanBatch)
	free := make(chan *scanBatch, onlineWriters+1)
	var written atomic.Int64
	var wg sync.WaitGroup
	for range onlineWriters {
		wg.Go(func() {
			enc := onlineEncoder{codec: codec, keys: keyTypes}
			for b := range batches {
				if ctx.Err() != nil {
					continue
				}
				rows, err := enc.encode(b.rows)
				if err == nil {
					err = online.WriteEncoded(ctx, m.Online, view, rows)
				}
				if err != nil {
					cancel(err)
					continue
				}
				free <- b
				m.report(Progress{View: v.Name, Phase: PhaseOnline, Rows: written.Add(int64(len(rows))), Total: total})
			}
		})
	}
	scanErr := scanBatches(ctx, conn, q, len(cols), batches, free)
	close(batches)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return written.Load(), err
	}
	if scanErr != nil {
		return written.Load(), fmt.Errorf("select the latest rows: %w", scanErr)
	}
	return written.Load(), ctx.Err()
}

// scanBatch is up to onlineBatch rows as the driver gives them, every row
// a slice of one slab of values.
type scanBatch struct {
	slab []driver.Value
	rows [][]driver.Value
}

// scanBatches runs query on conn and sends its rows, of width values each,
// to batches, onlineBatch rows at a time, until the rows end or ctx is done.
// It fills batches taken from free when there are any. It reads rows from
// the driver, skipping database/sql's per-row locking and conversion.
func scanBatches(ctx context.Context, conn *sql.Conn, query string, width int, batches, free chan *scanBatch) error {
	return conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the DuckDB driver's connection (%T) cannot run queries", dc)
		}
		rows, err := q.QueryContext(ctx, query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		for {
			var b *scanBatch
			select {
			case b = <-free:
				b.rows = b.rows[:0]
			default:
				b = &scanBatch{slab: make([]driver.Value, onlineBatch*width), rows: make([][]driver.Value, 0, onlineBatch)}
			}
			var err error
			for len(b.rows) < onlineBatch {
				n := len(b.rows) * width
				row := b.slab[n : n+width : n+width]
				if err = rows.Next(row); err != nil {
					break
				}
				b.rows = append(b.rows, row)
			}
			if err != nil && err != io.EOF {
				return err
			}
			if len(b.rows) > 0 {
				select {
				case batches <- b:
				case <-ctx.Done():
					return nil
				}
			}
			if err == io.EOF {
				return nil
			}
		}
	})
}

// onlineEncoder encodes scanned rows (join keys, event time, features) as
// online-store rows of the codec's view, the values straight from the
// scanned Go values. It reuses its memory from one call to the next: the
// rows it returns are valid until the next call.
type onlineEncoder struct {
	codec   *online.Codec
	keys    []registry.Field
	rows    []online.EncodedRow
	keyVals []*almanacv1.Value
	buf     []byte
}

func (e *onlineEncoder) encode(scanned [][]driver.Value) ([]online.EncodedRow, error) {
	nk := len(e.keys)
	e.rows = slices.Grow(e.rows[:0], len(scanned))[:len(scanned)]
	e.keyVals = slices.Grow(e.keyVals[:0], len(scanned)*nk)[:len(scanned)*nk]
	buf := e.buf[:0]
	for r, row := range scanned {
		key := e.keyVals[r*nk : (r+1)*nk : (r+1)*nk]
		for i, k := range e.keys {
			v, err := values.FromGo(row[i], k.Type)
			if err != nil {
				return nil, fmt.Errorf("join key %q: %w", k.Name, err)
			}
			key[i] = v
		}
		t, ok := row[nk].(time.Time)
		if !ok {
			return nil, fmt.Errorf("event time is %T, not a time", row[nk])
		}
		start := len(buf)
		var err error
		if buf, err = e.codec.AppendRecordGo(buf, t, row[nk+1:]); err != nil {
			return nil, err
		}
		e.rows[r] = online.EncodedRow{Key: key, Record: buf[start:len(buf):len(buf)]} // capped: see online.EncodeRows
	}
	e.buf = buf
	return e.rows, nil
}

// now returns the time by m's clock.
func (m *Materializer) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Materializer) report(p Progress) {
	if m.Progress != nil {
		m.Progress(p)
	}
}

// storedFields returns the columns the offline store keeps of v's rows
// besides its join keys and times: a plain view's features; for a view
// with window aggregations, every other column an aggregation reads, typed
// as the input cols has it, from which export computes the windows.
func storedFields(v *registry.FeatureView, keys []registry.Field, ts, created string, cols []registry.Column, input string) ([]registry.Field, error) {
	if !v.Aggregated() {
		return v.Features, nil
	}
	var out []registry.Field
	for _, a := range v.Aggregations {
		isKey := slices.ContainsFunc(keys, func(k registry.Field) bool { return k.Name == a.Column })
		if a.Column == "" || isKey || a.Column == ts || a.Column == created || slices.ContainsFunc(out, func(f registry.Field) bool { return f.Name == a.Column }) {
			continue
		}
		i := slices.IndexFunc(cols, func(c registry.Column) bool { return c.Name == a.Column })
		switch {
		case i < 0:
			return nil, fmt.Errorf("feature view %q: %s has no column %q, which its %s aggregation reads", v.Name, input, registry.Clip(a.Column), a.Function)
		case !cols[i].Type.Valid():
			return nil, fmt.Errorf("feature view %q: %s column %q is %s, which aggregations cannot read; cast it in the view's sql", v.Name, input, registry.Clip(a.Column), cols[i].DBType)
		}
		out = append(out, registry.Field{Name: a.Column, Type: cols[i].Type})
	}
	return out, nil
}

func hasColumn(cols []registry.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}
