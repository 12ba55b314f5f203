package offline

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/values"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// entry is a logged lookup of n drivers with two features.
func entry(at time.Time, first, n int, extra bool) LogEntry {
	keys := make([]*almanacv1.Value, n)
	rates := make([]*almanacv1.Value, n)
	sts := make([]almanacv1.FieldStatus, n)
	embs := make([]*almanacv1.Value, n)
	for i := range n {
		keys[i] = values.Int64(int64(first + i))
		rates[i] = values.Float64(float64(first+i) / 100)
		sts[i] = almanacv1.FieldStatus_PRESENT
		embs[i] = &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{1, 2}}}}
	}
	sts[0] = almanacv1.FieldStatus_NOT_FOUND
	cols := []LogColumn{
		{Name: "driver_id", Type: registry.TypeInt64, Key: true, Values: keys},
		{Name: "driver_stats__conv_rate", Type: registry.TypeFloat64, Values: rates, Statuses: sts},
	}
	if extra {
		cols = append(cols, LogColumn{Name: "driver_embedding__embedding", Type: registry.ListOf(registry.Float32), Values: embs, Statuses: sts})
	}
	return LogEntry{Service: "ranking", Time: at, Columns: cols}
}

func TestFeatureLogWritesCompleteParquet(t *testing.T) {
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := Open(t.TempDir(), Options{})
	log := store.NewFeatureLog(LogOptions{MaxRows: 25})
	day1 := time.Date(2026, 5, 1, 23, 59, 0, 0, time.UTC)
	for i := range 10 {
		log.Log(entry(day1, i*10, 10, false)) // 100 rows: files of up to 30 rows
	}
	log.Log(entry(day1.Add(2*time.Minute), 1000, 5, false)) // the next day
	log.Log(entry(day1.Add(2*time.Minute), 2000, 5, true))  // a new schema
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(glob string, wantRows int64, wantFiles int) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(store.LogDir("ranking"), glob))
		if len(files) != wantFiles {
			t.Fatalf("%s: %d files, want %d: %v", glob, len(files), wantFiles, files)
		}
		var rows int64
		q := "SELECT count(*) FROM read_parquet(?, union_by_name = true)"
		if err := db.QueryRow(q, files).Scan(&rows); err != nil {
			t.Fatalf("read %s: %v", glob, err)
		}
		if rows != wantRows {
			t.Errorf("%s: %d rows, want %d", glob, rows, wantRows)
		}
	}
	check("date=2026-05-01/*.parquet", 100, 4)
	check("date=2026-05-02/*.parquet", 10, 2)

	var status string
	var rate *float64
	q := fmt.Sprintf("SELECT driver_stats__conv_rate__status, driver_stats__conv_rate FROM read_parquet(%s) WHERE driver_id = 0", duck.Quote(filepath.Join(store.LogDir("ranking"), "date=2026-05-01", "*.parquet")))
	if err := db.QueryRow(q).Scan(&status, &rate); err != nil {
		t.Fatal(err)
	}
	if status != "NOT_FOUND" || rate != nil {
		t.Errorf("a NOT_FOUND value is logged as %v with status %q, want null and NOT_FOUND", rate, status)
	}
}

func TestFeatureLogDropsWhenFull(t *testing.T) {
	dropped := 0
	log := Open(t.TempDir(), Options{}).NewFeatureLog(LogOptions{Buffer: 1, OnDrop: func(n int) { dropped += n }})
	taken := 0
	for i := range 2000 {
		if log.Log(entry(time.Now(), i*3, 3, false)) {
			taken++
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if taken+dropped/3 != 2000 || int64(dropped) != log.Dropped() {
		t.Fatalf("taken %d, dropped rows %d (Dropped %d): every lookup must be either taken or counted as dropped", taken, dropped, log.Dropped())
	}
	if dropped == 0 {
		t.Fatal("a one-entry buffer fed 2000 lookups without pause dropped none; Log must not wait")
	}
}

// TestFeatureLogCloseWhileLogging closes the log while lookups are being
// logged, as a server shutting down may: no Log panics, and every lookup
// is either taken or counted as dropped, the deferred ones (Build) too.
func TestFeatureLogCloseWhileLogging(t *testing.T) {
	log := Open(t.TempDir(), Options{}).NewFeatureLog(LogOptions{})
	var taken atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				e := entry(time.Now(), (w*500+i)*2, 2, false)
				if i%2 == 1 {
					cols := e.Columns
					e = LogEntry{Service: e.Service, Time: e.Time, Rows: 2, Build: func() []LogColumn { return cols }}
				}
				if log.Log(e) {
					taken.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := taken.Load() + log.Dropped()/2; got != 2000 {
		t.Fatalf("taken %d, dropped rows %d: %d lookups accounted for, want 2000", taken.Load(), log.Dropped(), got)
	}
	if log.Log(entry(time.Now(), 0, 1, false)) {
		t.Error("Log after Close took the entry")
	}
}

// TestFeatureLogRoundTripsEveryType logs a lookup with a feature of every
// type, scalar and list, each with values, nulls and every status, and
// reads the file back through DuckDB: the columns must have the types
// duck.TypeName gives (those of a DuckDB table created with them, as the
// log had when DuckDB wrote it), in the log's order, and hold the values
// of PRESENT features and null otherwise.
func TestFeatureLogRoundTripsEveryType(t *testing.T) {
	at := func(s string) *almanacv1.Value {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return values.Timestamp(ts)
	}
	list := func(elem registry.Scalar, elems ...any) *almanacv1.Value {
		v, err := values.FromGo(append([]any{}, elems...), registry.ListOf(elem))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bytesValue := func(b []byte) *almanacv1.Value {
		return &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: b}}
	}
	// Each type with two values to log: rows 0 and 1 hold them, PRESENT.
	cases := []struct {
		typ  registry.Type
		a, b *almanacv1.Value
	}{
		{registry.TypeInt32, values.Int32(math.MinInt32), values.Int32(7)},
		{registry.TypeInt64, values.Int64(math.MaxInt64), values.Int64(-3)},
		{registry.TypeFloat32, values.Float32(1.5), values.Float32(-0.25)},
		{registry.TypeFloat64, values.Float64(math.Pi), values.Float64(-1e300)},
		{registry.TypeBool, values.Bool(true), values.Bool(false)},
		{registry.TypeString, values.String("héllo, 'world'"), values.String("")},
		{registry.TypeBytes, bytesValue([]byte{0, 1, 255}), bytesValue(nil)},
		{registry.TypeTimestamp, at("2026-05-01T12:34:56.789Z"), at("1969-12-31T23:59:59.001Z")},
		{registry.ListOf(registry.Int32), list(registry.Int32, int32(1), int32(-2), int32(math.MaxInt32)), list(registry.Int32)},
		{registry.ListOf(registry.Int64), list(registry.Int64, int64(math.MinInt64), int64(0)), list(registry.Int64, int64(9))},
		{registry.ListOf(registry.Float32), list(registry.Float32, float32(0.5), float32(1), float32(2)), list(registry.Float32)},
		{registry.ListOf(registry.Float64), list(registry.Float64, -1.0, 1e-300), list(registry.Float64, 42.0)},
		{registry.ListOf(registry.Bool), list(registry.Bool, true, false, true), list(registry.Bool)},
		{registry.ListOf(registry.String), list(registry.String, "a", "", "ü"), list(registry.String, "b")},
		{registry.ListOf(registry.Bytes), list(registry.Bytes, []byte{1}, []byte{}, []byte{2, 3}), list(registry.Bytes)},
		{registry.ListOf(registry.Timestamp), list(registry.Timestamp, time.UnixMilli(0), time.UnixMilli(1777638896789)), list(registry.Timestamp, time.UnixMilli(-1))},
	}
	// The rows: the status of each feature and whether it is given a
	// value. Only PRESENT values are logged; the rest must read back null.
	rows := []struct {
		status almanacv1.FieldStatus
		value  func(a, b *almanacv1.Value) *almanacv1.Value
	}{
		{almanacv1.FieldStatus_PRESENT, func(a, _ *almanacv1.Value) *almanacv1.Value { return a }},
		{almanacv1.FieldStatus_PRESENT, func(_, b *almanacv1.Value) *almanacv1.Value { return b }},
		{almanacv1.FieldStatus_NULL_VALUE, func(_, _ *almanacv1.Value) *almanacv1.Value { return nil }},
		{almanacv1.FieldStatus_NOT_FOUND, func(_, _ *almanacv1.Value) *almanacv1.Value { return nil }},
		{almanacv1.FieldStatus_OUTSIDE_MAX_AGE, func(a, _ *almanacv1.Value) *almanacv1.Value { return a }},
		{almanacv1.FieldStatus_PRESENT, func(_, _ *almanacv1.Value) *almanacv1.Value { return &almanacv1.Value{} }},
	}
	n := len(rows)
	ids, cities := make([]*almanacv1.Value, n), make([]*almanacv1.Value, n)
	for r := range n {
		ids[r] = values.Int64(int64(r))
		cities[r] = values.String(fmt.Sprintf("city %d", r))
	}
	cities[n-1] = nil // a null join key
	cols := []LogColumn{
		{Name: "driver_id", Type: registry.TypeInt64, Key: true, Values: ids},
		{Name: "city", Type: registry.TypeString, Key: true, Values: cities},
	}
	for _, c := range cases {
		col := LogColumn{Name: "v__" + strings.NewReplacer("<", "_", ">", "").Replace(c.typ.String()), Type: c.typ}
		for _, r := range rows {
			col.Values = append(col.Values, r.value(c.a, c.b))
			col.Statuses = append(col.Statuses, r.status)
		}
		cols = append(cols, col)
	}
	requestTime := time.Date(2026, 5, 1, 10, 11, 12, 123456000, time.UTC)

	store := Open(t.TempDir(), Options{})
	log := store.NewFeatureLog(LogOptions{})
	log.Log(LogEntry{Service: "every_type", Time: requestTime, Columns: cols})
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(store.LogDir("every_type"), "date=2026-05-01", "*.parquet"))
	if len(files) != 1 {
		t.Fatalf("%d files, want 1: %v", len(files), files)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// As drift reads the log: the date=... directory is not a column.
	relation := "read_parquet(" + duck.Quote(files[0]) + ", hive_partitioning = false)"

	// The columns, against a table of the types DuckDB staged the log in.
	defs := []string{"request_time TIMESTAMPTZ"}
	for _, c := range cols {
		defs = append(defs, duck.Ident(c.Name)+" "+duck.TypeName(c.Type))
		if !c.Key {
			defs = append(defs, duck.Ident(c.Name+"__status")+" VARCHAR")
		}
	}
	if _, err := db.Exec("CREATE TABLE reference (" + strings.Join(defs, ", ") + ")"); err != nil {
		t.Fatal(err)
	}
	want, err := duck.Describe(t.Context(), db, "SELECT * FROM reference")
	if err != nil {
		t.Fatal(err)
	}
	got, err := duck.Describe(t.Context(), db, "SELECT * FROM "+relation)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("the log has %d columns, want %d:\n%v\nwant\n%v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].DBType != want[i].DBType {
			t.Errorf("column %d is %s %s, want %s %s", i, got[i].Name, got[i].DBType, want[i].Name, want[i].DBType)
		}
	}
	if got[0].DBType != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("request_time is %s, want TIMESTAMP WITH TIME ZONE", got[0].DBType)
	}

	// The values, row by row.
	q, err := db.Query("SELECT * FROM " + relation + " ORDER BY driver_id")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r := 0
	for ; q.Next(); r++ {
		vals := make([]any, len(want))
		ptrs := make([]any, len(want))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := q.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if ts, ok := vals[0].(time.Time); !ok || !ts.Equal(requestTime) {
			t.Errorf("row %d: request_time %v, want %v", r, vals[0], requestTime)
		}
		i := 1
		for _, c := range cols {
			logged := c.Values[r]
			if !c.Key && c.Statuses[r] != almanacv1.FieldStatus_PRESENT {
				logged = nil
			}
			got, err := values.FromGo(vals[i], c.Type)
			if err != nil {
				t.Errorf("row %d, %s: read %#v: %v", r, c.Name, vals[i], err)
			} else if logged.GetVal() == nil && got.GetVal() != nil || logged.GetVal() != nil && !proto.Equal(got, logged) {
				t.Errorf("row %d, %s: read %s (%v), want %v", r, c.Name, values.Describe(got), vals[i], logged)
			}
			i++
			if !c.Key {
				if vals[i] != c.Statuses[r].String() {
					t.Errorf("row %d, %s: status %v, want %s", r, c.Name, vals[i], c.Statuses[r])
				}
				i++
			}
		}
	}
	if err := q.Err(); err != nil {
		t.Fatal(err)
	}
	if r != n {
		t.Errorf("read %d rows, want %d", r, n)
	}
}

// TestFeatureLogRotatesByRows logs many lookups with a small MaxRows and
// checks that they fill several complete files holding every row once,
// with no hidden file left after Close.
func TestFeatureLogRotatesByRows(t *testing.T) {
	store := Open(t.TempDir(), Options{})
	const maxRows, lookups = 100, 1000
	log := store.NewFeatureLog(LogOptions{MaxRows: maxRows, Buffer: lookups})
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	total, biggest := 0, 0
	for i := range lookups {
		n := 1 + i%7
		if !log.Log(entry(at, total, n, false)) {
			t.Fatal("a lookup was dropped with room in the buffer")
		}
		total += n
		biggest = max(biggest, n)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(store.LogDir("ranking"), "date=2026-05-01")
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range names {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".parquet") {
			t.Errorf("%s is left in the log after Close", e.Name())
			continue
		}
		files = append(files, filepath.Join(dir, e.Name()))
	}
	if min := total / (maxRows + biggest - 1); len(files) < min {
		t.Fatalf("%d files for %d rows, want at least %d", len(files), total, min)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range files {
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM read_parquet(" + duck.Quote(f) + ")").Scan(&n); err != nil {
			t.Errorf("%s is not complete Parquet: %v", filepath.Base(f), err)
		} else if n == 0 || n > maxRows+int64(biggest)-1 {
			t.Errorf("%s holds %d rows, want 1 to %d", filepath.Base(f), n, maxRows+biggest-1)
		}
	}
	var rows, distinct, sum int64
	q := "SELECT count(*), count(DISTINCT driver_id), sum(driver_id) FROM read_parquet(" + duck.QuoteList(files) + ")"
	if err := db.QueryRow(q).Scan(&rows, &distinct, &sum); err != nil {
		t.Fatal(err)
	}
	if rows != int64(total) || distinct != int64(total) || sum != int64(total*(total-1)/2) {
		t.Errorf("the files hold %d rows of %d drivers summing to %d, want each of the %d drivers 0..%d once", rows, distinct, sum, total, total-1)
	}
}

// TestFeatureLogStartsFileOnSchemaChange logs lookups of one service whose
// columns change, then change back, the same day: each change starts a new
// file, and each file has the columns of its lookups.
func TestFeatureLogStartsFileOnSchemaChange(t *testing.T) {
	store := Open(t.TempDir(), Options{})
	log := store.NewFeatureLog(LogOptions{})
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	retyped := entry(at, 300, 5, false)
	retyped.Columns[1].Type = registry.TypeFloat32 // same names, another type
	for i, e := range []LogEntry{                  // 5 rows each
		entry(at, 0, 5, false), entry(at, 5, 5, false), // file 1
		entry(at, 100, 5, true), // file 2: an extra column
		retyped,                 // file 3: a column retyped
		entry(at, 10, 5, false), // file 4: back to the first columns
	} {
		if !log.Log(e) {
			t.Fatalf("lookup %d was dropped", i)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(store.LogDir("ranking"), "date=2026-05-01", "*.parquet"))
	if len(files) != 4 {
		t.Fatalf("%d files, want 4: %v", len(files), files)
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Each file, by its first driver: its rows and its columns.
	want := map[int64]struct {
		rows int64
		cols string
	}{
		0:   {10, "request_time TIMESTAMP WITH TIME ZONE, driver_id BIGINT, driver_stats__conv_rate DOUBLE, driver_stats__conv_rate__status VARCHAR"},
		100: {5, "request_time TIMESTAMP WITH TIME ZONE, driver_id BIGINT, driver_stats__conv_rate DOUBLE, driver_stats__conv_rate__status VARCHAR, driver_embedding__embedding FLOAT[], driver_embedding__embedding__status VARCHAR"},
		300: {5, "request_time TIMESTAMP WITH TIME ZONE, driver_id BIGINT, driver_stats__conv_rate FLOAT, driver_stats__conv_rate__status VARCHAR"},
		10:  {5, "request_time TIMESTAMP WITH TIME ZONE, driver_id BIGINT, driver_stats__conv_rate DOUBLE, driver_stats__conv_rate__status VARCHAR"},
	}
	for _, f := range files {
		relation := "read_parquet(" + duck.Quote(f) + ", hive_partitioning = false)"
		var first, rows int64
		if err := db.QueryRow("SELECT min(driver_id), count(*) FROM "+relation).Scan(&first, &rows); err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		cols, err := duck.Describe(t.Context(), db, "SELECT * FROM "+relation)
		if err != nil {
			t.Fatal(err)
		}
		var desc []string
		for _, c := range cols {
			desc = append(desc, c.Name+" "+c.DBType)
		}
		w, ok := want[first]
		if !ok {
			t.Errorf("%s starts with driver %d, which starts no file", filepath.Base(f), first)
			continue
		}
		delete(want, first)
		if rows != w.rows || strings.Join(desc, ", ") != w.cols {
			t.Errorf("the file of driver %d holds %d rows of (%s), want %d rows of (%s)", first, rows, strings.Join(desc, ", "), w.rows, w.cols)
		}
	}
}

// TestFeatureLogBoundsRowGroups writes one file much bigger than
// rowGroupBytes and checks that it is split into row groups: the rows are
// written out as they come instead of waiting for the file to rotate.
func TestFeatureLogBoundsRowGroups(t *testing.T) {
	store := Open(t.TempDir(), Options{})
	log := store.NewFeatureLog(LogOptions{MaxRows: 1 << 30, Buffer: 1 << 10})
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const lookups, n, dim = 500, 100, 64 // 12.8 MB of embeddings in all
	for i := range lookups {
		e := entry(at, i*n, n, true)
		emb := e.Columns[2].Values
		for r := range emb {
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(i*n+r) + float32(j)/dim // distinct, so barely compressible
			}
			emb[r] = &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: v}}}
		}
		if !log.Log(e) {
			t.Fatalf("lookup %d was dropped", i)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(store.LogDir("ranking"), "date=2026-05-01", "*.parquet"))
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var groups, rows int64
	q := "SELECT count(DISTINCT row_group_id), max(row_group_num_rows) FROM parquet_metadata(" + duck.Quote(files[0]) + ")"
	if err := db.QueryRow(q).Scan(&groups, &rows); err != nil {
		t.Fatal(err)
	}
	if groups < 3 {
		t.Errorf("%d rows of %d floats make %d row groups, want them split at %d bytes", lookups*n, dim, groups, rowGroupBytes)
	}
	var total int64
	if err := db.QueryRow("SELECT count(*) FROM read_parquet(" + duck.Quote(files[0]) + ")").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != lookups*n {
		t.Errorf("%d rows, want %d", total, lookups*n)
	}
}

// BenchmarkFeatureLogHeldHeap reports, as held-B, the heap a log holds
// for a file of 5000 rows (the default MaxRows) of 50 float64 features
// waiting to rotate, and the cost of writing those rows.
func BenchmarkFeatureLogHeldHeap(b *testing.B) {
	const lookups, n, features = 500, 10, 50
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	entries := make([]LogEntry, lookups)
	for i := range entries {
		keys := make([]*almanacv1.Value, n)
		for r := range keys {
			keys[r] = values.Int64(int64(i*n + r))
		}
		cols := []LogColumn{{Name: "driver_id", Type: registry.TypeInt64, Key: true, Values: keys}}
		for f := range features {
			c := LogColumn{Name: fmt.Sprintf("stats__f%d", f), Type: registry.TypeFloat64, Values: make([]*almanacv1.Value, n), Statuses: make([]almanacv1.FieldStatus, n)}
			for r := range n {
				c.Values[r] = values.Float64(rng.NormFloat64()) // incompressible, as real features mostly are
				c.Statuses[r] = almanacv1.FieldStatus_PRESENT
			}
			cols = append(cols, c)
		}
		entries[i] = LogEntry{Service: "ranking", Time: at, Columns: cols}
	}
	var held int64
	for b.Loop() {
		l := &FeatureLog{dir: b.TempDir(), opts: LogOptions{MaxRows: 5000, MaxAge: time.Minute}, files: map[string]*logFile{}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, e := range entries {
			if err := l.write(e); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = int64(after.HeapInuse) - int64(before.HeapInuse)
		if err := l.rotate("ranking"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(held), "held-B")
}

// BenchmarkFeatureLogWrite reports, as cpu-ns/value (and ns/value, the
// wall time), what a FeatureLog takes per logged value (one column of one
// entity row, join key or feature) to write lookups as a feature server
// logs them: 100 entity rows of an int64 join key and 50 features, 20
// float64, 20 int64 and 10 string, some null, absent or too old, their
// values allocated row by row as the server decodes them. Each iteration
// logs one file's worth of lookups (the default MaxRows) through a real
// log and closes it.
func BenchmarkFeatureLogWrite(b *testing.B) {
	const lookups, n, features = 50, 100, 50
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	cities := []string{"amsterdam", "berlin", "lisbon", "madrid", "paris", "rome", "vienna", "warsaw"}
	entries := make([]LogEntry, lookups)
	valuesPerEntry := n * (1 + features)
	for i := range entries {
		cols := []LogColumn{{Name: "driver_id", Type: registry.TypeInt64, Key: true, Values: make([]*almanacv1.Value, n)}}
		for f := range features {
			t := registry.TypeString
			switch {
			case f < 20:
				t = registry.TypeFloat64
			case f < 40:
				t = registry.TypeInt64
			}
			cols = append(cols, LogColumn{Name: fmt.Sprintf("stats__f%d", f), Type: t, Values: make([]*almanacv1.Value, n), Statuses: make([]almanacv1.FieldStatus, n)})
		}
		for r := range n {
			cols[0].Values[r] = values.Int64(int64(i*n + r))
			for f, c := range cols[1:] {
				switch {
				case f < 20:
					c.Values[r] = values.Float64(rng.NormFloat64())
				case f < 40:
					c.Values[r] = values.Int64(rng.Int64N(1000))
				case f%2 == 0:
					c.Values[r] = values.String(cities[rng.IntN(len(cities))])
				default:
					c.Values[r] = values.String(fmt.Sprintf("trip-%d", rng.Int64()))
				}
				c.Statuses[r] = almanacv1.FieldStatus_PRESENT
				switch p := rng.IntN(100); {
				case p < 5:
					c.Values[r], c.Statuses[r] = nil, almanacv1.FieldStatus_NOT_FOUND
				case p < 8:
					c.Values[r], c.Statuses[r] = &almanacv1.Value{}, almanacv1.FieldStatus_NULL_VALUE
				case p < 10:
					c.Statuses[r] = almanacv1.FieldStatus_OUTSIDE_MAX_AGE
				}
			}
		}
		entries[i] = LogEntry{Service: "ranking", Time: at, Columns: cols}
	}
	store := Open(b.TempDir(), Options{})
	var cpu time.Duration
	var written int64
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime(b)
		log := store.NewFeatureLog(LogOptions{Buffer: lookups})
		for _, e := range entries {
			if !log.Log(e) {
				b.Fatal("a lookup was dropped with room in the buffer")
			}
		}
		if err := log.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - start
		b.StopTimer()
		err := filepath.WalkDir(store.LogDir("ranking"), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			written += info.Size()
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := os.RemoveAll(store.LogDir("ranking")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	logged := float64(b.N * lookups * valuesPerEntry)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/logged, "ns/value")
	b.ReportMetric(float64(cpu.Nanoseconds())/logged, "cpu-ns/value")
	b.ReportMetric(float64(written)/logged, "file-bytes/value")
}

// cpuTime returns the CPU time the process has used, on every thread: the
// cost of logging on a busy server, less sensitive than the wall time to
// the other processes of the machine.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
