package offline_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/offline"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
	"github.com/almanac-fs/almanac/window/windowtest"
)

// TestWindowCases runs every window case of ../window/testdata through
// Export: the case's rows are the history of an
// aggregated view, its points the entity rows. Export gives null where a
// case says not_found.
func TestWindowCases(t *testing.T) {
	cases, err := windowtest.Load("../window/testdata")
	if err != nil {
		t.Fatal(err)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			for _, d := range exportDiffs(t, db, c, 1) {
				t.Error(d)
			}
		})
	}
}

// TestWindowExportMatchesOracle compares, over many seeds, the window
// features Export gives for random rows, aggregations and entity rows with
// window.Evaluate's over the same rows.
func TestWindowExportMatchesOracle(t *testing.T) {
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for seed := range uint64(100) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x15))
			c := randomWindowCase(r)
			if diffs := exportDiffs(t, db, c, 1+r.IntN(3)); len(diffs) > 0 {
				t.Fatalf("%s (the oracle's is the want)\n%s", diffs[0], describeCase(c))
			}
		})
	}
}

// exportDiffs exports c (see exportWindowCase) and describes each point
// whose values differ from its want, or from nulls for an entity without
// a row at or before the point's time.
func exportDiffs(t *testing.T, db *duck.DB, c *windowtest.Case, parts int) []string {
	t.Helper()
	got := exportWindowCase(t, db, c, parts)
	var out []string
	for i, p := range c.At {
		want := p.Want
		if !p.Found {
			want = make([]*almanacv1.Value, len(c.Features))
			for j := range want {
				want[j] = &almanacv1.Value{}
			}
		}
		if d := windowtest.Diff(c.Features, got[i], want); d != "" {
			out = append(out, fmt.Sprintf("key %d at %s: %s", p.Key, p.T.Format(time.RFC3339Nano), d))
		}
	}
	return out
}

// Names of the tables and columns exportWindowCase writes beside the
// case's columns.
const (
	caseView    = "case_windows"
	caseKey     = "driver_id"
	caseTS      = "event_ts"
	caseCreated = "created_ts"
	caseArrival = "arrival"
	caseRow     = "entity_row"
)

// exportWindowCase writes the rows of c as the history of an aggregated
// view in a new offline store, in parts consecutive writes in arrival
// order (the first replacing, the others appending, so that rows of a
// later write arrived later, as the tie rule reads the files), exports the
// points of c.At as entity rows and returns each one's feature values.
func exportWindowCase(t *testing.T, db *duck.DB, c *windowtest.Case, parts int) [][]*almanacv1.Value {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	created := slices.ContainsFunc(c.Rows, func(r windowtest.Row) bool { return !r.Created.IsZero() })
	ddl := []string{caseKey + " BIGINT", caseTS + " TIMESTAMPTZ", caseArrival + " BIGINT"}
	if created {
		ddl = append(ddl, caseCreated+" TIMESTAMPTZ")
	}
	for _, col := range c.Columns {
		if slices.Contains([]string{caseKey, caseTS, caseCreated, caseArrival, caseRow, "event_timestamp"}, col.Name) {
			t.Fatalf("case %s: column %q has a name the export test uses itself; rename it", c.Name, col.Name)
		}
		ddl = append(ddl, fmt.Sprintf("%s %s", duck.Ident(col.Name), duck.TypeName(col.Type)))
	}
	store := offline.Open(filepath.Join(dir, "offline"), offline.Options{Retain: -1})
	for part := range parts {
		rows := c.Rows[part*len(c.Rows)/parts : (part+1)*len(c.Rows)/parts]
		if len(rows) == 0 {
			continue
		}
		var tuples []string
		start, end := rows[0].Time, rows[0].Time
		for i, r := range rows {
			tuple := []string{strconv.FormatInt(r.Key, 10), tsLiteral(r.Time), strconv.Itoa(i)}
			if created {
				tuple = append(tuple, "NULL")
				if !r.Created.IsZero() {
					tuple[len(tuple)-1] = tsLiteral(r.Created)
				}
			}
			for _, col := range c.Columns {
				tuple = append(tuple, valueLiteral(r.Values[col.Name], col.Type))
			}
			tuples = append(tuples, "("+strings.Join(tuple, ", ")+")")
			if r.Time.Before(start) {
				start = r.Time
			}
			if r.Time.After(end) {
				end = r.Time
			}
		}
		q := fmt.Sprintf("CREATE OR REPLACE TEMP TABLE case_rows (%s); INSERT INTO case_rows VALUES %s",
			strings.Join(ddl, ", "), strings.Join(tuples, ", "))
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("case %s: load rows: %v", c.Name, err)
		}
		b := offline.Batch{View: caseView, Start: start, End: end.Add(time.Millisecond), Append: part > 0,
			Conn: conn, Table: "case_rows", TimestampColumn: caseTS, SortBy: []string{caseKey}, OrderColumn: caseArrival}
		if created {
			b.CreatedColumn = caseCreated
		}
		if _, err := store.Write(ctx, b); err != nil {
			t.Fatalf("case %s: write rows: %v", c.Name, err)
		}
	}

	var points []string
	for i, p := range c.At {
		points = append(points, fmt.Sprintf("(CAST(%d AS BIGINT), %s, CAST(%d AS BIGINT))", p.Key, tsLiteral(p.T), i))
	}
	entityPath := filepath.Join(dir, "entities.parquet")
	q := fmt.Sprintf("COPY (SELECT * FROM (VALUES %s) AS e(%s, event_timestamp, %s)) TO %s (FORMAT parquet)",
		strings.Join(points, ", "), caseKey, caseRow, duck.Quote(entityPath))
	if _, err := conn.ExecContext(ctx, q); err != nil {
		t.Fatalf("case %s: write entity rows: %v", c.Name, err)
	}
	out := filepath.Join(dir, "train.parquet")
	req := offline.ExportRequest{Defs: caseDefinitions(c), Refs: []registry.FeatureRef{{View: caseView}}, EntityPath: entityPath, OutPath: out}
	if _, err := store.Export(ctx, db, req); err != nil {
		t.Fatalf("case %s: export: %v", c.Name, err)
	}

	cols := []string{caseRow}
	for _, f := range c.Features {
		cols = append(cols, duck.Ident(f.Name))
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM read_parquet(%s)", strings.Join(cols, ", "), duck.Quote(out)))
	if err != nil {
		t.Fatalf("case %s: read export: %v", c.Name, err)
	}
	defer rows.Close()
	var got [][]*almanacv1.Value
	for rows.Next() {
		cells := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if cells[0] != int64(len(got)) {
			t.Fatalf("case %s: exported row %d is entity row %v: export changed the order", c.Name, len(got), cells[0])
		}
		var vals []*almanacv1.Value
		for i, f := range c.Features {
			v, err := values.FromGo(cells[i+1], f.Type)
			if err != nil {
				t.Fatalf("case %s: exported %s: %v", c.Name, f.Name, err)
			}
			vals = append(vals, v)
		}
		got = append(got, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(c.At) {
		t.Fatalf("case %s: exported %d rows, want %d", c.Name, len(got), len(c.At))
	}
	return got
}

// caseDefinitions returns the definitions of the aggregated view of c:
// the entity driver with the int64 key driver_id, a source and the view.
func caseDefinitions(c *windowtest.Case) *registry.Definitions {
	v := &registry.FeatureView{Name: caseView, Entities: []string{"driver"}, Source: "rows",
		Aggregations: c.Aggregations, AggregationInterval: c.Interval, Windows: c.Features}
	for _, f := range c.Features {
		v.Features = append(v.Features, f.Field)
	}
	return &registry.Definitions{
		Entities: []*registry.Entity{{Name: "driver", JoinKeys: []registry.Field{{Name: caseKey, Type: registry.TypeInt64}}}},
		Sources:  []*registry.Source{{Name: "rows", Format: registry.FormatParquet, Path: "rows.parquet", TimestampField: caseTS}},
		Views:    []*registry.FeatureView{v},
	}
}

// tsLiteral is the SQL of the time t, to the microsecond.
func tsLiteral(t time.Time) string {
	return "TIMESTAMPTZ " + duck.Quote(t.UTC().Format("2006-01-02 15:04:05.000000")+"+00")
}

// valueLiteral is the SQL of v, a value of type t or null. Numbers go
// through text, which DuckDB parses to the nearest value, as Go formats
// them.
func valueLiteral(v *almanacv1.Value, t registry.Type) string {
	lit := "NULL"
	switch x := values.Go(v).(type) {
	case nil:
	case time.Time:
		return tsLiteral(x)
	case float32:
		lit = duck.Quote(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case float64:
		lit = duck.Quote(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		lit = duck.Quote(x)
	default: // integers and bools
		lit = duck.Quote(fmt.Sprint(x))
	}
	return fmt.Sprintf("CAST(%s AS %s)", lit, duck.TypeName(t))
}

// randomBases are the starts of the random rows' times, day boundaries:
// one of them puts the rows on both sides of the Unix epoch.
var randomBases = []time.Time{
	time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 30, 0, 0, 0, 0, time.UTC),
}

var (
	randomWindows   = []time.Duration{5 * time.Minute, 7 * time.Minute, time.Hour, 90 * time.Minute, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	randomIntervals = []time.Duration{0, 0, time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour}
)

// randomWindowCase returns a case of 1 to 6 random aggregations over an
// int64, a float64 and a string column, in windows or lifetime, of rows
// of 3 entities with nulls and ties on time and created time, and of
// points around the rows and the windows' bounds, their want computed by
// window.Evaluate.
func randomWindowCase(r *rand.Rand) *windowtest.Case {
	c := &windowtest.Case{Name: "random", Interval: randomIntervals[r.IntN(len(randomIntervals))], Columns: []windowtest.Column{
		{Name: "n", Type: registry.TypeInt64}, {Name: "x", Type: registry.TypeFloat64}, {Name: "s", Type: registry.TypeString},
	}}
	taken := map[string]bool{}
	for len(c.Aggregations) < 1+r.IntN(6) {
		a := registry.Aggregation{Function: registry.AggFunction(1 + r.IntN(int(registry.AggLastN)))}
		var col registry.Type
		if a.Function != registry.AggCount || r.IntN(3) > 0 {
			column := c.Columns[r.IntN(len(c.Columns))]
			a.Column, col = column.Name, column.Type
		}
		if a.Function == registry.AggLastN {
			a.N = 1 + r.IntN(4)
		}
		if r.IntN(5) > 0 {
			for range 1 + r.IntN(3) {
				a.Windows = append(a.Windows, randomWindows[r.IntN(len(randomWindows))])
			}
		}
		if len(a.Windows) == 1 && r.IntN(4) == 0 {
			a.Name = fmt.Sprintf("named_%d", len(c.Aggregations))
		}
		fs, err := a.Features(len(c.Aggregations), col, c.Interval)
		if err != nil {
			continue // a column the function does not take
		}
		names := map[string]bool{}
		for _, f := range fs {
			names[f.Name] = true
		}
		if len(names) < len(fs) || slices.ContainsFunc(fs, func(f registry.WindowFeature) bool { return taken[f.Name] }) {
			continue // a window twice, or a name taken
		}
		maps.Copy(taken, names)
		c.Aggregations = append(c.Aggregations, a)
		c.Features = append(c.Features, fs...)
	}

	base := randomBases[r.IntN(len(randomBases))]
	created := r.IntN(2) == 0
	for range 1 + r.IntN(60) {
		row := windowtest.Row{Key: 1 + r.Int64N(3), Time: randomRowTime(r, base, c.Rows), Values: map[string]*almanacv1.Value{}}
		if created && r.IntN(4) > 0 {
			row.Created = row.Time.Add(time.Duration(r.IntN(3)) * time.Minute)
		}
		for _, col := range c.Columns {
			if r.IntN(5) > 0 {
				row.Values[col.Name] = randomColumnValue(r, col.Type)
			}
		}
		c.Rows = append(c.Rows, row)
	}

	aggs := c.Aggs()
	for range 30 {
		p := randomPoint(r, base, c)
		p.Want, p.Found = window.Evaluate(c.EntityRows(p.Key), aggs, c.Features, p.T)
		c.At = append(c.At, p)
	}
	return c
}

// randomRowTime returns a time in the three days from base, on a
// hop boundary, the time of one of rows (a tie) or up to ten days older.
func randomRowTime(r *rand.Rand, base time.Time, rows []windowtest.Row) time.Time {
	t := base.Add(time.Duration(r.Int64N(3*24*3600*1000)) * time.Millisecond)
	switch r.IntN(5) {
	case 0:
		return t.Truncate(5 * time.Minute)
	case 1:
		return t.Truncate(time.Hour)
	case 2:
		if len(rows) > 0 {
			return rows[r.IntN(len(rows))].Time
		}
	case 3:
		return base.Add(-time.Duration(r.Int64N(10*24*3600*1000)) * time.Millisecond)
	}
	return t
}

// randomPoint returns an entity key (4 has no rows) and a time to
// evaluate it at: on a row or 1 ms either side, where a window's tail
// meets a row, where the tail's hop passes a row's, before the entity's
// first row, or anywhere.
func randomPoint(r *rand.Rand, base time.Time, c *windowtest.Case) windowtest.Point {
	row := c.Rows[r.IntN(len(c.Rows))]
	w := c.Features[r.IntN(len(c.Features))].Window
	ms := time.Duration(r.IntN(3)-1) * time.Millisecond
	p := windowtest.Point{Key: row.Key}
	switch r.IntN(6) {
	case 0, 1:
		p.T = row.Time.Add(ms)
	case 2:
		p.T = row.Time.Add(w.Span + ms)
	case 3:
		p.T = row.Time.Add(w.Span + ms)
		if w.Hop > 0 {
			p.T = row.Time.Truncate(w.Hop).Add(w.Span + w.Hop + ms)
		}
	case 4:
		p.T = row.Time
		for _, other := range c.Rows {
			if other.Key == row.Key && other.Time.Before(p.T) {
				p.T = other.Time
			}
		}
		p.T = p.T.Add(ms - time.Millisecond)
	default:
		p.Key = 1 + r.Int64N(4)
		p.T = base.Add(time.Duration(r.Int64N(5*24*3600*1000))*time.Millisecond - 24*time.Hour)
	}
	return p
}

// randomColumnValue returns a value of type t: int64, float64 or string.
func randomColumnValue(r *rand.Rand, t registry.Type) *almanacv1.Value {
	switch t.Elem {
	case registry.Int64:
		return values.Int64(r.Int64N(2000) - 1000)
	case registry.Float64:
		return values.Float64(r.NormFloat64() * 100)
	}
	return values.String(string(rune('a' + r.IntN(6))))
}

// describeCase describes the features and rows of c for a failure.
func describeCase(c *windowtest.Case) string {
	var b strings.Builder
	fmt.Fprintf(&b, "interval %s; features:", c.Interval)
	for _, f := range c.Features {
		fmt.Fprintf(&b, " %s (span %s, hop %s)", f.Name, f.Window.Span, f.Window.Hop)
	}
	for i, r := range c.Rows {
		fmt.Fprintf(&b, "\nrow %d: key %d, ts %s", i, r.Key, r.Time.Format(time.RFC3339Nano))
		if !r.Created.IsZero() {
			fmt.Fprintf(&b, ", created %s", r.Created.Format(time.RFC3339Nano))
		}
		for _, col := range c.Columns {
			fmt.Fprintf(&b, ", %s %s", col.Name, values.Describe(r.Values[col.Name]))
		}
	}
	return b.String()
}
