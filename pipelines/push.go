package pipelines

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// Pusher stores rows pushed to push sources: the latest per entity in the
// online store, and every row appended to the history of each feature view
// over the source in the offline store. It is safe for concurrent use.
type Pusher struct {
	Online  online.Store
	Offline *offline.Store
	DB      *duck.DB
	// MaxFuture is how far past Now a pushed event time may be
	// (push.max_future); zero means that setting's default.
	MaxFuture time.Duration
	// Now is the clock event times are checked against; nil means time.Now.
	Now func() time.Time

	seq atomic.Int64 // names the working tables of concurrent pushes
}

// Push validates columns (column name to one value per row) against the
// schema of the push source in defs and stores the rows. Invalid rows give
// an error wrapping online.ErrInvalid, and nothing is stored. It returns only
// when the offline store has committed them durably and the online store
// has taken them, so an acknowledged push is never lost. A push that fails
// may have reached the offline store and can be retried: the offline store
// skips an append of rows it appended lately (they are named by a hash of
// their content), and the online store's newer-wins makes the retry
// harmless there. The tiles of an aggregated view remember the latest
// window.MaxPushIDs pushes merged into each (see mergeTiles), and merge
// none of them again. Pushing the same rows twice therefore stores them
// once.
//
// Of rows with the same join keys and event time, the later push's wins,
// and within a push the later row's, both online and in training sets: each
// view's rows reach the online store while its offline history is locked
// for the push, so that pushes reach both stores in the same order. Pushing
// rows again that a later push followed keeps their first place: they then
// replace no online value of the same event time.
func (p *Pusher) Push(ctx context.Context, defs *registry.Definitions, source string, columns map[string][]*almanacv1.Value) (int, error) {
	src, err := defs.LookupSource(source)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", online.ErrInvalid, err)
	}
	if src.Format != registry.FormatPush {
		return 0, fmt.Errorf("%w: source %q is a %s source, not a push source", online.ErrInvalid, source, src.Format)
	}
	var views []*registry.FeatureView
	for _, v := range defs.Views {
		if v.Source == source {
			views = append(views, v)
		}
	}
	rows, err := checkColumns(src, views, defs, columns)
	if err != nil {
		return 0, err
	}
	if err := p.checkTimes(src, columns); err != nil {
		return 0, err
	}
	if rows == 0 {
		return 0, nil
	}
	id, err := contentID(source, columns)
	if err != nil {
		return 0, err
	}
	if err := p.store(ctx, src, views, defs, columns, rows, id); err != nil {
		return 0, err
	}
	return rows, nil
}

// now returns the time of p's clock.
func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// checkColumns checks the pushed columns against the source schema,
// converting values to the schema's types in place, and returns the number
// of rows.
func checkColumns(src *registry.Source, views []*registry.FeatureView, defs *registry.Definitions, columns map[string][]*almanacv1.Value) (int, error) {
	schema := map[string]registry.Type{}
	names := make([]string, len(src.Schema))
	for i, f := range src.Schema {
		schema[f.Name] = f.Type
		names[i] = f.Name
	}
	required := []string{src.TimestampField}
	for _, v := range views {
		for _, k := range defs.JoinKeys(v) {
			if !slices.Contains(required, k.Name) {
				required = append(required, k.Name)
			}
		}
	}
	for _, r := range required {
		if _, ok := columns[r]; !ok {
			return 0, fmt.Errorf("%w: column %q is missing; source %q needs %s", online.ErrInvalid, r, src.Name, strings.Join(required, ", "))
		}
	}
	rows := -1
	for name, vals := range columns {
		t, ok := schema[name]
		if !ok {
			return 0, fmt.Errorf("%w: %w", online.ErrInvalid, registry.NotFound("column", name, fmt.Sprintf("source %q", src.Name), names))
		}
		if rows >= 0 && len(vals) != rows {
			return 0, fmt.Errorf("%w: columns have different lengths: %q has %d values, others %d", online.ErrInvalid, registry.Clip(name), len(vals), rows)
		}
		rows = len(vals)
		needed := slices.Contains(required, name)
		for i, v := range vals {
			if needed && v.GetVal() == nil {
				return 0, fmt.Errorf("%w: column %q, row %d: is null; join keys and the event time need a value", online.ErrInvalid, name, i)
			}
			c, err := values.Coerce(v, t)
			if err != nil {
				return 0, fmt.Errorf("%w: column %q, row %d: %w", online.ErrInvalid, name, i, err)
			}
			vals[i] = c
		}
	}
	return max(rows, 0), nil
}

// contentID names pushed rows by a hash of the source and its columns.
func contentID(source string, columns map[string][]*almanacv1.Value) (string, error) {
	h := sha256.New()
	var buf []byte
	write := func(b []byte) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(b)))
		h.Write(buf)
		h.Write(b)
	}
	write([]byte(source))
	opts := proto.MarshalOptions{Deterministic: true}
	for _, name := range slices.Sorted(maps.Keys(columns)) {
		write([]byte(name))
		for _, v := range columns[name] {
			b, err := opts.Marshal(v)
			if err != nil {
				return "", fmt.Errorf("hash pushed column %q: %w", name, err)
			}
			write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// onlineRows turns pushed columns into the online rows of view v.
func onlineRows(v *registry.FeatureView, defs *registry.Definitions, src *registry.Source, columns map[string][]*almanacv1.Value, n int) []online.Row {
	keys := defs.JoinKeys(v)
	ts := columns[src.TimestampField]
	out := make([]online.Row, n)
	for i := range n {
		r := online.Row{EventTime: values.Time(ts[i]), Key: make([]*almanacv1.Value, len(keys)), Values: make([]*almanacv1.Value, len(v.Features))}
		for j, k := range keys {
			r.Key[j] = columns[k.Name][i]
		}
		for j, f := range v.Features {
			if col, ok := columns[f.Name]; ok {
				r.Values[j] = col[i]
			}
		}
		out[i] = r
	}
	return out
}

// store appends the rows to the history of every view over src and, after
// each view's commit, writes them to the online store, for views with
// online: true.
func (p *Pusher) store(ctx context.Context, src *registry.Source, views []*registry.FeatureView, defs *registry.Definitions, columns map[string][]*almanacv1.Value, n int, id string) error {
	conn, err := p.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	table := fmt.Sprintf("almanac_push_%d", p.seq.Add(1))
	colDefs := make([]string, len(src.Schema))
	for i, f := range src.Schema {
		colDefs[i] = fmt.Sprintf("%s %s", duck.Ident(f.Name), duck.TypeName(f.Type))
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", table, strings.Join(colDefs, ", "))); err != nil {
		return fmt.Errorf("stage pushed rows: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", table)
		if err != nil {
			return err
		}
		row := make([]driver.Value, len(src.Schema))
		for i := range n {
			for j, f := range src.Schema {
				row[j] = nil
				if col, ok := columns[f.Name]; ok {
					row[j] = values.Go(col[i])
				}
			}
			if err := app.AppendRow(row...); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return fmt.Errorf("stage pushed rows: %w", err)
	}
	var first, last time.Time
	for _, v := range columns[src.TimestampField] {
		t := values.Time(v)
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	schema := make([]registry.Column, len(src.Schema))
	for i, f := range src.Schema {
		schema[i] = registry.Column{Name: f.Name, Type: f.Type}
	}
	for _, v := range views {
		keys := defs.JoinKeys(v)
		fields, err := storedFields(v, keys, src.TimestampField, "", schema, fmt.Sprintf("source %q schema", src.Name))
		if err != nil {
			return fmt.Errorf("%w: %w", online.ErrInvalid, err)
		}
		sel := make([]string, 0, len(keys)+len(fields)+1)
		sortBy := make([]string, len(keys))
		for i, k := range keys {
			sel = append(sel, duck.Ident(k.Name))
			sortBy[i] = k.Name
		}
		sel = append(sel, duck.Ident(src.TimestampField))
		for _, f := range fields {
			if _, ok := columns[f.Name]; ok {
				sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(f.Name), duck.TypeName(f.Type)))
			} else {
				sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", duck.TypeName(f.Type), duck.Ident(f.Name)))
			}
		}
		sel = append(sel, fmt.Sprintf("row_number() OVER () AS %s", duck.Ident(orderColumn)))
		viewTable := fmt.Sprintf("%s_%s", table, v.Name)
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM %s", viewTable, strings.Join(sel, ", "), table)); err != nil {
			return fmt.Errorf("stage pushed rows of view %q: %w", v.Name, err)
		}
		var onlineErr error
		_, err = p.Offline.Write(ctx, offline.Batch{
			View: v.Name, Start: first, End: last.Add(time.Millisecond), Append: true, ID: id, Conn: conn, Table: viewTable,
			TimestampColumn: src.TimestampField, SortBy: sortBy, OrderColumn: orderColumn,
			AfterCommit: func(snap *offline.Snapshot) error {
				switch {
				case !v.Online:
				case v.Aggregated():
					onlineErr = p.mergeTiles(ctx, v, keys, src, columns, n, id, pushSeq(snap, id))
				default:
					latest := len(snap.Appended) > 0 && snap.Appended[len(snap.Appended)-1] == id
					onlineErr = p.writeOnline(ctx, v, onlineRows(v, defs, src, columns, n), !latest)
				}
				return onlineErr
			},
		})
		conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+viewTable)
		if onlineErr != nil {
			return onlineErr
		}
		if err != nil {
			return fmt.Errorf("append pushed rows to the history of view %q: %w", v.Name, err)
		}
	}
	return nil
}

// writeOnline writes pushed rows of v to the online store. With repeated,
// the rows repeat an append that later ones followed: only those newer than
// the stored record of their entity are written, since of equal event
// times the stored one came later.
func (p *Pusher) writeOnline(ctx context.Context, v *registry.FeatureView, rows []online.Row, repeated bool) error {
	view := online.ViewOf(v)
	if repeated {
		lookups := make([]online.Lookup, len(rows))
		for i, r := range rows {
			lookups[i] = online.Lookup{View: &view, Key: r.Key}
		}
		recs, err := p.Online.Read(ctx, lookups)
		if err != nil {
			return fmt.Errorf("read the online values of view %q that repeated pushed rows may replace: %w", v.Name, err)
		}
		newer := rows[:0]
		for i, r := range rows {
			if !recs[i].Found || r.EventTime.After(recs[i].EventTime) {
				newer = append(newer, r)
			}
		}
		if rows = newer; len(rows) == 0 {
			return nil
		}
	}
	if err := p.Online.Write(ctx, view, rows); err != nil {
		return fmt.Errorf("write pushed rows of view %q to the online store: %w", v.Name, err)
	}
	return nil
}

// pushSeqBase orders pushed rows in window tiles after the rows
// materialization put there, whose Seq, their place in the offline
// history (file<<40 | row), stays below it. A pushed row's Seq is
// pushSeqBase | version<<32 | row: version is that of the snapshot that
// committed its push, so a later push wins ties, and row its place in the
// push, so a later row does, as in training sets.
const pushSeqBase = 1 << 62

// pushSeq returns the Seq of the first row of push id, given the snapshot
// its AfterCommit got. A retried push whose append was skipped gets the
// current snapshot: its version is then estimated as the current one less
// the appends after it, which places it before them unless replacing
// writes came between.
func pushSeq(snap *offline.Snapshot, id string) int64 {
	version := snap.Version
	if i := slices.Index(snap.Appended, id); i >= 0 {
		version -= int64(len(snap.Appended) - 1 - i)
	}
	return pushSeqBase | version<<32
}

// mergeTiles merges pushed rows of the aggregated view v, whose join keys
// are keys, into the tile record of each of their entities in the online
// store, atomically per entity. A record that remembers the push id (see
// window.Set.Remember) is left as it is: a retried push whose rows reached
// it counts once. Rows with event times after now wait in the record as
// pending rows until their time (window.Set.Push).
func (p *Pusher) mergeTiles(ctx context.Context, v *registry.FeatureView, keys []registry.Field, src *registry.Source, columns map[string][]*almanacv1.Value, n int, id string, seq int64) error {
	up, ok := p.Online.(online.Updater)
	if !ok {
		return fmt.Errorf("merge pushed rows of view %q into its tiles: the online store (%T) does not update records in place", v.Name, p.Online)
	}
	var entities [][]*almanacv1.Value
	var rows [][]window.Row
	index := map[string]int{}
	ts := columns[src.TimestampField]
	var name []byte
	for i := range n {
		key := make([]*almanacv1.Value, len(keys))
		for j, k := range keys {
			key[j] = columns[k.Name][i]
		}
		// Rows are grouped by the entity the online store keys them by.
		var err error
		if name, err = online.AppendEntityKey(name[:0], key); err != nil {
			return fmt.Errorf("merge pushed rows of view %q into its tiles: %w", v.Name, err)
		}
		e, ok := index[string(name)]
		if !ok {
			e = len(entities)
			index[string(name)] = e
			entities, rows = append(entities, key), append(rows, nil)
		}
		row := window.Row{
			At:     window.Order{Time: values.Time(ts[i]).UnixMilli(), Created: window.NoCreated, Seq: seq + int64(i)},
			Values: make([]*almanacv1.Value, len(v.Aggregations)),
		}
		for j, a := range v.Aggregations {
			if col, ok := columns[a.Column]; ok && a.Column != "" {
				row.Values[j] = col[i]
			}
		}
		rows[e] = append(rows[e], row)
	}
	aggs := window.Aggs(v.Aggregations, v.Windows)
	codec := window.NewCodec(aggs, v.Windows)
	now := p.now()
	err := up.Update(ctx, online.ViewOf(v), entities, func(i int, old string) (string, error) {
		set := window.NewSet(v.Windows)
		if old != "" {
			found, err := codec.DecodeSet(&set, old)
			if err != nil {
				return "", fmt.Errorf("read the tiles of %v: %w", entities[i], err)
			}
			if !found { // written for other aggregations: start again
				set = window.NewSet(v.Windows)
			}
		}
		if set.Pushed(id) {
			return "", nil
		}
		for _, r := range rows[i] {
			set.Push(aggs, r, now)
		}
		set.Remember(id)
		set.Settle(aggs, now)
		set.Trim(v.Windows, now)
		rec, err := codec.AppendSet(nil, &set)
		if err != nil {
			return "", fmt.Errorf("encode the tiles of %v: %w", entities[i], err)
		}
		return string(rec), nil
	})
	if err != nil {
		return fmt.Errorf("merge pushed rows of view %q into its tiles: %w", v.Name, err)
	}
	return nil
}
