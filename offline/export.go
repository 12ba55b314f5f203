package offline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// DefaultTimestampColumn is the entity rows' event-time column unless told
// otherwise.
const DefaultTimestampColumn = "event_timestamp"

// ExportRequest asks for a training set: the features of Refs joined, point
// in time, to the entity rows in EntityPath.
type ExportRequest struct {
	Defs *registry.Definitions
	Refs []registry.FeatureRef
	// EntityPath is a Parquet or CSV file of entity rows: join keys, the
	// event time and any other columns (labels), which pass through.
	EntityPath string
	// EntityName is how messages name the entity rows; empty means
	// EntityPath.
	EntityName string
	// TimestampColumn names the entity rows' event time; empty means
	// DefaultTimestampColumn. Times without a zone are UTC.
	TimestampColumn string
	// OutPath is the Parquet file to write; it is replaced atomically.
	OutPath string
	// FullNames names feature columns view__feature instead of feature.
	FullNames bool
}

// ExportResult describes a written training set.
type ExportResult struct {
	Rows       int64
	Columns    []string
	Features   []string // "view:feature", in column order
	Start, End time.Time
}

// selection is the features taken from one view.
type selection struct {
	view     *registry.FeatureView
	features []registry.SelectedFeature
	keys     []registry.Field
}

// resolve groups the features that refs select by view, in the order views
// first appear.
func resolve(defs *registry.Definitions, refs []registry.FeatureRef) ([]*selection, error) {
	sel, err := defs.Resolve(refs)
	if err != nil {
		return nil, err
	}
	out := make([]*selection, len(sel.Views))
	for i, v := range sel.Views {
		out[i] = &selection{view: v, features: sel.OfView(i), keys: defs.JoinKeys(v)}
	}
	return out, nil
}

// Export writes a point-in-time-correct training set: for every entity row,
// in order, each requested feature's value from the row of its view with
// the same join keys and the greatest event time ts such that
// event_timestamp - ttl <= ts <= event_timestamp (no lower bound without a
// TTL); null when there is none. Of rows tied on ts, the one with the
// greatest created time wins (a null one loses), then the one written
// last: of a later write, then later in the write's table
// (Batch.OrderColumn). The work runs in DuckDB, which spills to disk, so
// neither the entity rows nor the history need to fit in memory.
func (s *Store) Export(ctx context.Context, db *duck.DB, req ExportRequest) (*ExportResult, error) {
	sels, err := resolve(req.Defs, req.Refs)
	if err != nil {
		return nil, err
	}
	tsCol := req.TimestampColumn
	if tsCol == "" {
		tsCol = DefaultTimestampColumn
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	keyTypes := map[string]registry.Type{}
	for _, sel := range sels {
		for _, k := range sel.keys {
			keyTypes[k.Name] = k.Type
		}
	}
	entityCols, err := loadEntities(ctx, conn, req.EntityPath, keyTypes)
	if err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS almanac_entities")
	name := req.EntityName
	if name == "" {
		name = req.EntityPath
	}
	if err := checkEntities(entityCols, tsCol, sels, name); err != nil {
		return nil, err
	}
	res := &ExportResult{}
	for _, c := range entityCols {
		res.Columns = append(res.Columns, c.Name)
	}
	if err := outputNames(sels, req.FullNames, res); err != nil {
		return nil, err
	}
	tsIdx := slices.IndexFunc(entityCols, func(c registry.Column) bool { return c.Name == tsCol })
	var minTS, maxTS sql.NullTime
	err = conn.QueryRowContext(ctx, fmt.Sprintf("SELECT min(CAST(%s AS TIMESTAMPTZ)), max(CAST(%[1]s AS TIMESTAMPTZ)) FROM almanac_entities", entityCol(tsIdx))).Scan(&minTS, &maxTS)
	if err != nil {
		return nil, fmt.Errorf("read entity times: %w", err)
	}
	res.Start, res.End = minTS.Time.UTC(), maxTS.Time.UTC()

	q, err := s.exportQuery(ctx, conn, sels, entityCols, tsIdx, req.FullNames, minTS, maxTS)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(req.OutPath), 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(req.OutPath), "."+filepath.Base(req.OutPath)+".tmp")
	defer os.Remove(tmp)
	r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", q, duck.Quote(tmp)))
	if err != nil {
		return nil, fmt.Errorf("join features: %w", err)
	}
	if res.Rows, err = r.RowsAffected(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, req.OutPath); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.OutPath, err)
	}
	return res, nil
}

// loadEntities reads the entity rows into a temporary table whose columns
// have generated names (almanac_c0, ...), so that no user column can shadow
// the table's rowid, which is the rows' order in the file, or the names the
// join uses. It returns the file's columns, in order. CSV columns that are
// join keys are read with the keys' types, so that a string key made of
// digits stays a string.
func loadEntities(ctx context.Context, conn *sql.Conn, path string, keys map[string]registry.Type) ([]registry.Column, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read entity rows: %w", err)
	}
	csv := false
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
	case ".csv":
		csv = true
	default:
		return nil, fmt.Errorf("read entity rows %s: unknown format %q; use a .parquet or .csv file", path, filepath.Ext(path))
	}
	reader := func(types []string) string {
		if !csv {
			return fmt.Sprintf("read_parquet(%s, hive_partitioning = false)", duck.Quote(path))
		}
		opts := ""
		if len(types) > 0 {
			opts = ", types = {" + strings.Join(types, ", ") + "}"
		}
		return fmt.Sprintf("read_csv(%s, header = true, hive_partitioning = false%s)", duck.Quote(path), opts)
	}
	read := reader(nil)
	cols, err := duck.Describe(ctx, conn, "SELECT * FROM "+read)
	if err != nil {
		return nil, fmt.Errorf("read entity rows %s: %w", path, err)
	}
	var types []string
	for _, c := range cols {
		if t, ok := keys[c.Name]; ok && csv {
			types = append(types, fmt.Sprintf("%s: %s", duck.Quote(c.Name), duck.Quote(duck.TypeName(t))))
		}
	}
	if len(types) > 0 {
		read = reader(types)
		if cols, err = duck.Describe(ctx, conn, "SELECT * FROM "+read); err != nil {
			return nil, fmt.Errorf("read entity rows %s: %w", path, err)
		}
	}
	renamed := make([]string, len(cols))
	for i, c := range cols {
		renamed[i] = fmt.Sprintf("%s AS %s", duck.Ident(c.Name), entityCol(i))
	}
	q := fmt.Sprintf("CREATE OR REPLACE TEMP TABLE almanac_entities AS SELECT %s FROM %s", strings.Join(renamed, ", "), read)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("read entity rows %s: %w", path, err)
	}
	return cols, nil
}

// entityCol is the generated name of the i-th entity column.
func entityCol(i int) string { return fmt.Sprintf("almanac_c%d", i) }

// checkEntities checks that the entity rows hold the event time and every
// join key the selected views need, with usable types.
func checkEntities(cols []registry.Column, tsCol string, sels []*selection, name string) error {
	byName := map[string]registry.Column{}
	var names []string
	for _, c := range cols {
		byName[c.Name] = c
		names = append(names, c.Name)
	}
	var problems []string
	ts, ok := byName[tsCol]
	switch {
	case !ok:
		problems = append(problems, fmt.Sprintf("no event-time column %q (columns: %s); add it or name it with --timestamp-column", tsCol, strings.Join(names, ", ")))
	case ts.Type != registry.TypeTimestamp:
		problems = append(problems, fmt.Sprintf("column %q is %s, not a timestamp", tsCol, ts.DBType))
	}
	seen := map[string]bool{}
	for _, sel := range sels {
		for _, k := range sel.keys {
			if seen[k.Name] {
				continue
			}
			seen[k.Name] = true
			c, ok := byName[k.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("no column %q, the join key of feature view %q", k.Name, sel.view.Name))
			case !registry.Convertible(c.Type, k.Type) || c.Type.Elem == registry.Bytes && k.Type.Elem != registry.Bytes:
				problems = append(problems, fmt.Sprintf("column %q is %s but join key %q of feature view %q is %s", k.Name, c.DBType, k.Name, sel.view.Name, k.Type))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("entity rows %s: %s", name, strings.Join(problems, "; "))
	}
	return nil
}

// outputNames fills res.Features and appends the feature columns to
// res.Columns, refusing names that would collide.
func outputNames(sels []*selection, full bool, res *ExportResult) error {
	// DuckDB and most Parquet readers treat column names case-insensitively.
	taken := map[string]string{}
	for _, c := range res.Columns {
		taken[strings.ToLower(c)] = "an entity column"
	}
	for _, sel := range sels {
		for _, f := range sel.features {
			name := f.Field.Name
			if full {
				name = f.FullName
			}
			if other, ok := taken[strings.ToLower(name)]; ok {
				return fmt.Errorf("column %q of %s is also %s; pass --full-names to name features view__feature", name, f.Ref, other)
			}
			taken[strings.ToLower(name)] = f.Ref
			res.Columns = append(res.Columns, name)
			res.Features = append(res.Features, f.Ref)
		}
	}
	return nil
}

// exportQuery builds the point-in-time join: one ASOF LEFT JOIN per view,
// over only the partitions that can hold a matching row. Entity columns are
// read under their generated names and named back in the output.
//
// Rows of a view tied on keys and event time are told apart by its
// history's sort key (see history): the ASOF join takes the row with the
// greatest sort key not above the entity row's, which has the entity row's
// time and every other field at its maximum. An entity row without a time
// gets a key below every row's.
func (s *Store) exportQuery(ctx context.Context, conn *sql.Conn, sels []*selection, entityCols []registry.Column, tsIdx int, full bool, minTS, maxTS sql.NullTime) (string, error) {
	var with, joins, sel []string
	with = append(with, fmt.Sprintf("e AS (SELECT rowid AS almanac_row, *, CAST(%s AS TIMESTAMPTZ) AS almanac_ts FROM almanac_entities)", entityCol(tsIdx)))
	colOf := make(map[string]string, len(entityCols))
	for i, c := range entityCols {
		colOf[c.Name] = entityCol(i)
		sel = append(sel, fmt.Sprintf("e.%s AS %s", entityCol(i), duck.Ident(c.Name)))
	}
	for i, x := range sels {
		alias := fmt.Sprintf("h%d", i)
		if x.view.Aggregated() {
			w, err := s.windowQuery(ctx, conn, x, alias, colOf, full, minTS, maxTS)
			if err != nil {
				return "", err
			}
			with, joins, sel = append(with, w.with...), append(joins, w.joins...), append(sel, w.cols...)
			continue
		}
		hist, created, err := s.history(ctx, conn, x, minTS, maxTS)
		if err != nil {
			return "", err
		}
		with = append(with, alias+" AS ("+hist+")")
		on := []string{fmt.Sprintf("%s >= %s.almanac_key", entityKey(created), alias)}
		for _, k := range x.keys {
			on = append(on, fmt.Sprintf("e.%s = %s.%s", colOf[k.Name], alias, duck.Ident(k.Name)))
		}
		joins = append(joins, fmt.Sprintf("ASOF LEFT JOIN %s ON %s", alias, strings.Join(on, " AND ")))
		for _, f := range x.features {
			name := f.Field.Name
			if full {
				name = f.FullName
			}
			col := fmt.Sprintf("%s.%s", alias, duck.Ident(f.Field.Name))
			if x.view.TTL > 0 {
				col = fmt.Sprintf("CASE WHEN %s.almanac_ts >= e.almanac_ts - to_microseconds(%d) THEN %s END", alias, x.view.TTL.Microseconds(), col)
			}
			sel = append(sel, fmt.Sprintf("%s AS %s", col, duck.Ident(name)))
		}
	}
	return fmt.Sprintf("WITH %s SELECT %s FROM e %s ORDER BY e.almanac_row",
		strings.Join(with, ", "), strings.Join(sel, ", "), strings.Join(joins, " ")), nil
}

// entityKey is the sort key an entity row's time is joined by, for a
// history with a created time or without (see history).
func entityKey(created bool) string {
	c, minC := "", ""
	if created {
		c, minC = "'created': TIMESTAMPTZ 'infinity', ", "'created': TIMESTAMPTZ '-infinity', "
	}
	return fmt.Sprintf("CASE WHEN e.almanac_ts IS NULL THEN {'ts': TIMESTAMPTZ '-infinity', %s'tie': CAST(-1 AS BIGINT)} ELSE {'ts': e.almanac_ts, %s'tie': CAST(%d AS BIGINT)} END",
		minC, c, int64(math.MaxInt64))
}

// history returns the query of a plain view's rows that an entity row in
// [minTS, maxTS] can match, and whether its sort key has a created time
// (see viewRows).
func (s *Store) history(ctx context.Context, conn *sql.Conn, x *selection, minTS, maxTS sql.NullTime) (string, bool, error) {
	cols := make([]string, 0, len(x.keys)+len(x.features))
	for _, k := range x.keys {
		cols = append(cols, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(k.Name), duck.TypeName(k.Type)))
	}
	for _, f := range x.features {
		cols = append(cols, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(f.Field.Name), duck.TypeName(f.Field.Type)))
	}
	var from time.Time
	if x.view.TTL > 0 {
		from = minTS.Time.Add(-x.view.TTL)
	}
	q, created, found, err := s.viewRows(ctx, conn, x.view.Name, cols, from, minTS, maxTS)
	if err != nil || !found {
		return emptyHistory(x), false, err
	}
	return q, created, nil
}

// viewRows returns the query of the rows of view with event times in
// [from, maxTS] (no lower bound when from is zero), of the columns cols
// plus the event time, almanac_ts, and the sort key, almanac_key; whether
// that key has a created time; and whether the view has files that can
// hold rows up to maxTS, for entity rows in [minTS, maxTS].
//
// The sort key orders the rows of one key and event time as the tie rule
// does: by created time (null first) where the view has one, then by file
// and by position in the file (tieColumn), the winner last. The files keep
// rows tied on keys and times in that order, and a later file holds rows
// written later.
func (s *Store) viewRows(ctx context.Context, conn *sql.Conn, view string, cols []string, from time.Time, minTS, maxTS sql.NullTime) (q string, created, found bool, err error) {
	snap, err := s.Snapshot(view)
	if errors.Is(err, ErrNoData) || err == nil && !minTS.Valid {
		return "", false, false, nil
	}
	if err != nil {
		return "", false, false, err
	}
	files := s.filesFor(snap, from, maxTS.Time)
	if len(files) == 0 && !from.IsZero() {
		// No file holds a row in range: the newest one gives the relation
		// its columns, and the bounds keep none of its rows.
		if files = s.filesFor(snap, time.Time{}, maxTS.Time); len(files) > 0 {
			files = files[len(files)-1:]
		}
	}
	if len(files) == 0 {
		return "", false, false, nil
	}
	rows, err := positioned(ctx, conn, files)
	if err != nil {
		return "", false, false, fmt.Errorf("read history of view %q: %w", view, err)
	}
	ts := duck.Ident(snap.TimestampColumn)
	createdKey := ""
	if snap.CreatedColumn != "" {
		createdKey = fmt.Sprintf("'created': coalesce(%s, TIMESTAMPTZ '-infinity'), ", duck.Ident(snap.CreatedColumn))
	}
	cols = append(slices.Clone(cols), fmt.Sprintf("%s AS almanac_ts", ts), fmt.Sprintf("{'ts': %s, %s'tie': %s} AS almanac_key", ts, createdKey, duck.Ident(tieColumn)))
	q = fmt.Sprintf("SELECT %s FROM (%s) WHERE %s <= %s", strings.Join(cols, ", "), rows, ts, timeLiteral(maxTS.Time))
	if !from.IsZero() {
		q += fmt.Sprintf(" AND %s >= %s", ts, timeLiteral(from))
	}
	return q, createdKey != "", true, nil
}

// emptyHistory is a typed relation without rows, for views with no history.
func emptyHistory(x *selection) string {
	var cols []string
	for _, k := range x.keys {
		cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", duck.TypeName(k.Type), duck.Ident(k.Name)))
	}
	for _, f := range x.features {
		cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %s", duck.TypeName(f.Field.Type), duck.Ident(f.Field.Name)))
	}
	cols = append(cols, "CAST(NULL AS TIMESTAMPTZ) AS almanac_ts", "CAST(NULL AS STRUCT(ts TIMESTAMPTZ, tie BIGINT)) AS almanac_key")
	return "SELECT " + strings.Join(cols, ", ") + " LIMIT 0"
}

// filesFor returns the files of snap whose date can hold a row with an
// event time in [from, to] (no lower bound when from is zero).
func (s *Store) filesFor(snap *Snapshot, from, to time.Time) []string {
	var out []string
	for _, f := range snap.Files {
		day, err := time.Parse(time.DateOnly, f.Date)
		if err != nil {
			continue
		}
		if day.After(to) || !from.IsZero() && day.Add(24*time.Hour).Before(from) {
			continue
		}
		out = append(out, filepath.Join(snap.dir, f.Path))
	}
	return out
}
