package offline_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
)

// Point-in-time cases live in testdata/pit/*.txt, one case per file. Lines
// starting with # are comments; blank lines are ignored. A line starting at
// column 0 opens a block; the indented lines after it are the block's table:
// a header of columns, then one row per line. Values are separated by spaces;
// "quoted strings" and [lists, of, values] may hold spaces; null is null.
//
//	entity NAME KEY:TYPE...        an entity and its join keys; an entity a view
//	                               names without declaring it has the one key
//	                               NAME_id, typed by the view's header
//	view NAME entities=E1,E2 [ttl=1h] [created[=COL]] [ts=COL] [format=csv|push] [nofiles]
//	  COL:TYPE ...                 the view's source rows: join keys, the event
//	  ROW ...                      time (event_ts unless ts=), the created time
//	                               (created_ts with a bare "created"), features
//	                               (every other column). Without rows the source
//	                               is an empty file; nofiles writes no file. The
//	                               file is data/NAME/history.FORMAT. A push
//	                               source has no file, no rows here and no
//	                               online store (online: false).
//	file VIEW NAME                 another file of the view's source,
//	  COL:TYPE ...                 data/VIEW/NAME.FORMAT (the source reads its
//	  ROW ...                      files in path order)
//	push VIEW                      rows pushed to the view's push source, one
//	  COL:TYPE ...                 push per block, in order, after the other
//	  ROW ...                      views are materialized
//	aggregations VIEW [interval=D] the view's window aggregations, which make
//	  function column windows name n  it an aggregated view (DESIGN §8): one
//	  ROW ...                      per line, "-" for no column, name or n;
//	                               windows a list such as [1h,lifetime]
//	entities [format=csv]
//	  COL:TYPE ...                 the entity rows (types: the definition types
//	  ROW ...                      plus timestamp_ntz, a timestamp without zone;
//	                               CSV files are written as the tokens are)
//	export [features=V:F,V,...] [full-names] [timestamp-column=COL]
//	----                           then either the expected table
//	  COL ...                      (column names, then rows as rendered: null,
//	  ROW ...                      RFC 3339 UTC times, floats as strconv 'g')
//	error TEXT                     or an export error containing TEXT
//
// Without an export line every feature of every view is exported. The runner
// writes the sources as Parquet (or CSV with a schema), the definitions and
// the entity file, loads the repository with registry.Load, materializes all
// of it with pipelines.Materializer, exports with Store.Export and reads the
// output back through DuckDB.

// pitColumn is a column of a table in a case: a name and, where needed, a
// type as definitions write it (or timestamp_ntz).
type pitColumn struct{ Name, Type string }

type pitTable struct {
	Cols []pitColumn
	Rows [][]string // tokens as written
}

func (tb *pitTable) col(name string) int {
	return slices.IndexFunc(tb.Cols, func(c pitColumn) bool { return c.Name == name })
}

type pitEntity struct {
	Name string
	Keys []pitColumn
}

type pitView struct {
	Name     string
	Entities []string
	TTL      string
	TS       string // event-time column
	Created  string // created-time column, if any
	Format   string // parquet, csv or push
	NoFiles  bool
	History  pitTable
	Files    []*pitFile // more files of the source
	// Aggs, when it has a header, makes the view an aggregated one (see
	// windowsOf); Interval is its aggregation_interval.
	Aggs     pitTable
	Interval string
}

// pitFile is a file of a view's source, or a push to it.
type pitFile struct {
	View *pitView
	Name string // the file's name without extension; empty for a push
	Rows pitTable
}

type pitCase struct {
	Entities   []*pitEntity
	Views      []*pitView
	Rows       pitTable
	RowsFormat string   // parquet or csv
	Features   []string // references; empty means every view
	FullNames  bool
	TSColumn   string
	Pushes     []*pitFile
	Want       *pitTable // names only in Cols
	WantErr    string
	// Ranges are the materialization runs, in order; none means one run
	// over all of time.
	Ranges []offline.Interval
}

// tokenize splits a line at spaces outside "quotes" and [brackets].
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	depth, quoted, escaped, in := 0, false, false, false
	for _, r := range line {
		switch {
		case quoted:
			cur.WriteRune(r)
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				quoted = false
			}
			continue
		case r == '"':
			quoted = true
		case r == '[':
			depth++
		case r == ']':
			depth--
		case (r == ' ' || r == '\t') && depth == 0:
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
			continue
		}
		in = true
		cur.WriteRune(r)
	}
	if quoted || depth != 0 {
		return nil, fmt.Errorf("unbalanced quote or bracket in %q", line)
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// splitList returns the elements of a [list] token.
func splitList(tok string) ([]string, error) {
	if !strings.HasPrefix(tok, "[") || !strings.HasSuffix(tok, "]") {
		return nil, fmt.Errorf("%q is not a [list]", tok)
	}
	inner := strings.TrimSpace(tok[1 : len(tok)-1])
	if inner == "" {
		return []string{}, nil
	}
	var out []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range inner {
		switch {
		case quoted:
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				quoted = false
			}
		case r == '"':
			quoted = true
		case r == ',':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(out, strings.TrimSpace(cur.String())), nil
}

func parsePIT(data string) (*pitCase, error) {
	c := &pitCase{}
	var table *pitTable
	afterSep := false
	for i, line := range strings.Split(data, "\n") {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		toks, err := tokenize(trimmed)
		if err != nil {
			return nil, fail("%v", err)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if table == nil {
				return nil, fail("indented line outside a block")
			}
			if table.Cols == nil {
				for _, tok := range toks {
					name, typ, _ := strings.Cut(tok, ":")
					table.Cols = append(table.Cols, pitColumn{Name: name, Type: typ})
				}
				continue
			}
			if len(toks) != len(table.Cols) {
				return nil, fail("%d values for %d columns", len(toks), len(table.Cols))
			}
			table.Rows = append(table.Rows, toks)
			continue
		}
		table = nil
		if afterSep {
			if msg, ok := strings.CutPrefix(trimmed, "error "); ok && len(c.Want.Cols) == 0 && c.WantErr == "" {
				c.WantErr = msg
				continue
			}
			return nil, fail("after ---- only an error line or an indented table")
		}
		opts := map[string]string{}
		for _, tok := range toks[1:] {
			k, v, _ := strings.Cut(tok, "=")
			opts[k] = v
		}
		known := func(names ...string) error {
			for k := range opts {
				if !slices.Contains(names, k) {
					return fail("unknown option %q of %s", k, toks[0])
				}
			}
			return nil
		}
		switch toks[0] {
		case "entity":
			if len(toks) < 3 {
				return nil, fail("entity NAME KEY:TYPE...")
			}
			e := &pitEntity{Name: toks[1]}
			for _, tok := range toks[2:] {
				name, typ, ok := strings.Cut(tok, ":")
				if !ok {
					return nil, fail("join key %q without a type", tok)
				}
				e.Keys = append(e.Keys, pitColumn{Name: name, Type: typ})
			}
			c.Entities = append(c.Entities, e)
		case "view":
			if len(toks) < 2 {
				return nil, fail("view NAME ...")
			}
			delete(opts, toks[1])
			if err := known("entities", "ttl", "created", "ts", "format", "nofiles"); err != nil {
				return nil, err
			}
			v := &pitView{Name: toks[1], TTL: opts["ttl"], TS: cmpOr(opts["ts"], "event_ts"), Format: cmpOr(opts["format"], "parquet")}
			if opts["entities"] == "" {
				return nil, fail("view %s has no entities=", v.Name)
			}
			v.Entities = strings.Split(opts["entities"], ",")
			if created, ok := opts["created"]; ok {
				v.Created = cmpOr(created, "created_ts")
			}
			_, v.NoFiles = opts["nofiles"]
			c.Views = append(c.Views, v)
			table = &v.History
		case "file", "push":
			var v *pitView
			if len(toks) > 1 {
				i := slices.IndexFunc(c.Views, func(v *pitView) bool { return v.Name == toks[1] })
				if i >= 0 {
					v = c.Views[i]
				}
			}
			f := &pitFile{View: v}
			switch {
			case v == nil:
				return nil, fail("%s VIEW: name a view declared before", toks[0])
			case toks[0] == "push" && (len(toks) != 2 || v.Format != "push"):
				return nil, fail("push VIEW: name a view with format=push")
			case toks[0] == "push":
				c.Pushes = append(c.Pushes, f)
			case len(toks) != 3 || v.Format == "push":
				return nil, fail("file VIEW NAME: name a view that is not format=push, and the file")
			default:
				f.Name = toks[2]
				v.Files = append(v.Files, f)
			}
			table = &f.Rows
		case "aggregations":
			i := -1
			if len(toks) > 1 {
				i = slices.IndexFunc(c.Views, func(v *pitView) bool { return v.Name == toks[1] })
			}
			if i < 0 {
				return nil, fail("aggregations VIEW: name a view declared before")
			}
			delete(opts, toks[1])
			if err := known("interval"); err != nil {
				return nil, err
			}
			c.Views[i].Interval = opts["interval"]
			table = &c.Views[i].Aggs
		case "entities":
			if err := known("format"); err != nil {
				return nil, err
			}
			c.RowsFormat = cmpOr(opts["format"], "parquet")
			table = &c.Rows
		case "export":
			if err := known("features", "full-names", "timestamp-column"); err != nil {
				return nil, err
			}
			if f := opts["features"]; f != "" {
				c.Features = strings.Split(f, ",")
			}
			_, c.FullNames = opts["full-names"]
			c.TSColumn = opts["timestamp-column"]
		case "----":
			afterSep = true
			c.Want = &pitTable{}
			table = c.Want
		default:
			return nil, fail("unknown block %q", toks[0])
		}
	}
	if !afterSep {
		return nil, errors.New("no ---- line")
	}
	if c.WantErr != "" {
		c.Want = nil
	}
	if c.Rows.Cols == nil {
		return nil, errors.New("no entities block")
	}
	for _, v := range c.Views {
		if v.Format == "push" && len(v.History.Rows) > 0 {
			return nil, fmt.Errorf("view %s: a push source's rows go in push blocks", v.Name)
		}
	}
	return c, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// entity returns the declared entity called name, or the one a view implies.
func (c *pitCase) entity(name string, v *pitView) (*pitEntity, error) {
	for _, e := range c.Entities {
		if e.Name == name {
			return e, nil
		}
	}
	key := name + "_id"
	i := v.History.col(key)
	if i < 0 {
		return nil, fmt.Errorf("view %s: entity %s is not declared and the view has no column %s", v.Name, name, key)
	}
	return &pitEntity{Name: name, Keys: []pitColumn{v.History.Cols[i]}}, nil
}

// features returns the feature columns of v: every column but the join
// keys and the times.
func (c *pitCase) features(v *pitView) ([]pitColumn, error) {
	skip := map[string]bool{v.TS: true, v.Created: true}
	for _, name := range v.Entities {
		e, err := c.entity(name, v)
		if err != nil {
			return nil, err
		}
		for _, k := range e.Keys {
			skip[k.Name] = true
		}
	}
	var out []pitColumn
	for _, col := range v.History.Cols {
		if !skip[col.Name] {
			out = append(out, col)
		}
	}
	return out, nil
}

// duckType is the DuckDB type of a case column type.
func duckType(typ string) (string, error) {
	if elem, ok := strings.CutPrefix(typ, "list<"); ok {
		elem, ok = strings.CutSuffix(elem, ">")
		if !ok {
			return "", fmt.Errorf("bad type %q", typ)
		}
		t, err := duckType(elem)
		return t + "[]", err
	}
	t, ok := map[string]string{
		"int32": "INTEGER", "int64": "BIGINT", "float32": "FLOAT", "float64": "DOUBLE",
		"bool": "BOOLEAN", "string": "VARCHAR", "bytes": "BLOB",
		"timestamp": "TIMESTAMPTZ", "timestamp_ntz": "TIMESTAMP",
	}[typ]
	if !ok {
		return "", fmt.Errorf("unknown type %q", typ)
	}
	return t, nil
}

// sqlLiteral renders a token as a DuckDB expression of type typ.
func sqlLiteral(tok, typ string) (string, error) {
	if tok == "null" {
		return "NULL", nil
	}
	dt, err := duckType(typ)
	if err != nil {
		return "", err
	}
	if elem, ok := strings.CutPrefix(typ, "list<"); ok {
		elem = strings.TrimSuffix(elem, ">")
		elems, err := splitList(tok)
		if err != nil {
			return "", err
		}
		lits := make([]string, len(elems))
		for i, e := range elems {
			if lits[i], err = sqlLiteral(e, elem); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("CAST([%s] AS %s)", strings.Join(lits, ", "), dt), nil
	}
	return fmt.Sprintf("CAST(%s AS %s)", duck.Quote(unquote(tok)), dt), nil
}

func unquote(tok string) string {
	if s, err := strconv.Unquote(tok); err == nil && strings.HasPrefix(tok, `"`) {
		return s
	}
	return tok
}

// writeTable writes tb to path as Parquet (through DuckDB) or as CSV.
func writeTable(ctx context.Context, db *duck.DB, tb *pitTable, format, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if format == "csv" {
		var b strings.Builder
		w := csv.NewWriter(&b)
		names := make([]string, len(tb.Cols))
		for i, c := range tb.Cols {
			names[i] = c.Name
		}
		w.Write(names)
		for _, row := range tb.Rows {
			rec := make([]string, len(row))
			for i, tok := range row {
				if tok != "null" {
					rec[i] = unquote(tok)
				}
			}
			w.Write(rec)
		}
		w.Flush()
		return os.WriteFile(path, []byte(b.String()), 0o644)
	}
	// The rows are numbered so that the file keeps their order.
	var sel, names []string
	for _, col := range tb.Cols {
		dt, err := duckType(col.Type)
		if err != nil {
			return fmt.Errorf("column %s: %w", col.Name, err)
		}
		sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %[1]s", duck.Ident(col.Name), dt))
		names = append(names, duck.Ident(col.Name))
	}
	var values []string
	for i, row := range tb.Rows {
		lits := []string{strconv.Itoa(i)}
		for j, tok := range row {
			lit, err := sqlLiteral(tok, tb.Cols[j].Type)
			if err != nil {
				return fmt.Errorf("column %s: %w", tb.Cols[j].Name, err)
			}
			lits = append(lits, lit)
		}
		values = append(values, "("+strings.Join(lits, ", ")+")")
	}
	var q string
	if len(values) == 0 {
		for i, n := range names {
			names[i] = "NULL AS " + n
		}
		q = fmt.Sprintf("SELECT %s FROM (SELECT %s) LIMIT 0", strings.Join(sel, ", "), strings.Join(names, ", "))
	} else {
		q = fmt.Sprintf("SELECT %s FROM (VALUES %s) AS v(pit_row, %s) ORDER BY pit_row",
			strings.Join(sel, ", "), strings.Join(values, ", "), strings.Join(names, ", "))
	}
	_, err := db.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet)", q, duck.Quote(path)))
	return err
}

// definitions renders the case's entities, sources and views as YAML.
func (c *pitCase) definitions() (string, error) {
	var docs []string
	seen := map[string]bool{}
	for _, v := range c.Views {
		for _, name := range v.Entities {
			e, err := c.entity(name, v)
			if err != nil {
				return "", err
			}
			if seen[e.Name] {
				continue
			}
			seen[e.Name] = true
			doc := fmt.Sprintf("kind: Entity\nname: %s\njoin_keys:\n", e.Name)
			for _, k := range e.Keys {
				doc += fmt.Sprintf("  - {name: %s, type: %s}\n", k.Name, k.Type)
			}
			docs = append(docs, doc)
		}
	}
	for _, v := range c.Views {
		src := fmt.Sprintf("kind: Source\nname: %s_source\nformat: %s\n", v.Name, v.Format)
		if v.Format != "push" {
			src += fmt.Sprintf("path: data/%s/*.%s\n", v.Name, v.Format)
		}
		src += fmt.Sprintf("timestamp_field: %s\n", v.TS)
		if v.Created != "" {
			src += fmt.Sprintf("created_timestamp_field: %s\n", v.Created)
		}
		if v.Format != "parquet" {
			src += "schema:\n"
			for _, col := range v.History.Cols {
				src += fmt.Sprintf("  - {name: %s, type: %s}\n", col.Name, col.Type)
			}
		}
		feats, err := c.features(v)
		if err != nil {
			return "", err
		}
		view := fmt.Sprintf("kind: FeatureView\nname: %s\nentities: [%s]\nsource: %[1]s_source\n", v.Name, strings.Join(v.Entities, ", "))
		if v.TTL != "" {
			view += "ttl: " + v.TTL + "\n"
		}
		if v.Format == "push" {
			view += "online: false\n"
		}
		view += "features:\n"
		for _, f := range feats {
			view += fmt.Sprintf("  - {name: %s, type: %s}\n", f.Name, f.Type)
		}
		docs = append(docs, src, view)
	}
	return strings.Join(docs, "---\n"), nil
}

// pitEnv is a feature repository with its history materialized.
type pitEnv struct {
	dir   string
	db    *duck.DB
	defs  *registry.Definitions
	store *offline.Store
}

func noEnv(string) string { return "" }

// setupPIT writes the case's repository and materializes all of its history.
func setupPIT(t *testing.T, c *pitCase) *pitEnv {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := duck.Open(duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	defsYAML, err := c.definitions()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "almanac.yaml"), []byte("project: pit\noffline_store:\n  path: offline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "features.yaml"), []byte(defsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Views {
		if v.NoFiles || v.Format == "push" {
			continue
		}
		files := append([]*pitFile{{View: v, Name: "history", Rows: v.History}}, v.Files...)
		for _, f := range files {
			path := filepath.Join(dir, "data", v.Name, f.Name+"."+v.Format)
			if err := writeTable(ctx, db, &f.Rows, v.Format, path); err != nil {
				t.Fatalf("write %s of view %s: %v", f.Name, v.Name, err)
			}
		}
	}
	schemas := pipelines.NewSchemas()
	defer schemas.Close()
	repo, err := registry.Load(ctx, dir, registry.LoadOptions{Getenv: noEnv, Schemas: schemas})
	if err != nil {
		t.Fatalf("load definitions:\n%v\n%s", err, defsYAML)
	}
	if err := c.aggregate(repo.Defs); err != nil {
		t.Fatal(err)
	}
	store := offline.Open(repo.Config.Abs(repo.Config.OfflineStore.Path), offline.Options{Retain: -1})
	m := &pipelines.Materializer{Config: repo.Config, Defs: repo.Defs, Offline: store, DB: db}
	ranges := c.Ranges
	if len(ranges) == 0 {
		ranges = []offline.Interval{{Start: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}}
	}
	for _, r := range ranges {
		if _, err := m.Run(ctx, repo.Defs.Views, r.Start, r.End); err != nil {
			t.Fatalf("materialize [%s, %s): %v", r.Start, r.End, err)
		}
	}
	p := &pipelines.Pusher{Offline: store, DB: db}
	for i, push := range c.Pushes {
		src := push.View.Name + "_source"
		path := filepath.Join(dir, "pushes", fmt.Sprintf("%d.parquet", i))
		if err := writeTable(ctx, db, &push.Rows, "parquet", path); err != nil {
			t.Fatalf("write push %d: %v", i+1, err)
		}
		cols, _, err := pipelines.ReadRows(ctx, db, path, repo.Defs.Source(src).Schema)
		if err != nil {
			t.Fatalf("read push %d: %v", i+1, err)
		}
		if _, err := p.Push(ctx, repo.Defs, src, cols); err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
	}
	return &pitEnv{dir: dir, db: db, defs: repo.Defs, store: store}
}

// refs parses feature references; none means every view.
func (env *pitEnv) refs(t *testing.T, features []string) []registry.FeatureRef {
	t.Helper()
	var refs []registry.FeatureRef
	for _, f := range features {
		ref, err := registry.ParseFeatureRef(f)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if len(features) == 0 {
		for _, v := range env.defs.Views {
			refs = append(refs, registry.FeatureRef{View: v.Name})
		}
	}
	return refs
}

// writeEntities writes the case's entity rows and returns the file's path.
func (env *pitEnv) writeEntities(t *testing.T, c *pitCase) string {
	t.Helper()
	path := filepath.Join(env.dir, "entities."+c.RowsFormat)
	if err := writeTable(t.Context(), env.db, &c.Rows, c.RowsFormat, path); err != nil {
		t.Fatalf("write entity rows: %v", err)
	}
	return path
}

// runPIT sets the case up, exports and returns the output, or the export's
// error.
func runPIT(t *testing.T, c *pitCase) (*pitTable, error) {
	t.Helper()
	env := setupPIT(t, c)
	out := filepath.Join(env.dir, "out", "train.parquet")
	res, err := env.store.Export(t.Context(), env.db, offline.ExportRequest{
		Defs: env.defs, Refs: env.refs(t, c.Features), EntityPath: env.writeEntities(t, c),
		TimestampColumn: c.TSColumn, OutPath: out, FullNames: c.FullNames,
	})
	if err != nil {
		if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("export failed (%v) but wrote %s", err, out)
		}
		return nil, err
	}
	got, err := readParquet(t.Context(), env.db, out)
	if err != nil {
		t.Fatalf("read the export back: %v", err)
	}
	if int(res.Rows) != len(got.Rows) {
		t.Errorf("ExportResult.Rows = %d, want %d (the file's rows)", res.Rows, len(got.Rows))
	}
	var names []string
	for _, col := range got.Cols {
		names = append(names, col.Name)
	}
	if !slices.Equal(res.Columns, names) {
		t.Errorf("ExportResult.Columns = %q, want %q (the file's columns)", res.Columns, names)
	}
	return got, nil
}

// readParquet reads a Parquet file, rendering every value as text.
func readParquet(ctx context.Context, db *duck.DB, path string) (*pitTable, error) {
	return query(ctx, db, fmt.Sprintf("SELECT * FROM read_parquet(%s)", duck.Quote(path)))
}

// query runs q and renders its result as text.
func query(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string) (*pitTable, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	tb := &pitTable{}
	for _, n := range names {
		tb.Cols = append(tb.Cols, pitColumn{Name: n})
	}
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = render(v)
		}
		tb.Rows = append(tb.Rows, row)
	}
	return tb, rows.Err()
}

const timeLayout = "2006-01-02T15:04:05.999999Z07:00"

// render formats a value read from DuckDB as the expected tables write it.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case time.Time:
		return x.UTC().Format(timeLayout)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return renderString(x)
	case []byte:
		return "0x" + hex.EncodeToString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprint(v)
}

// renderString quotes strings that would not read back as one plain token.
func renderString(s string) string {
	if s == "" || s == "null" || strings.ContainsAny(s, " \t\",[]\\") {
		return strconv.Quote(s)
	}
	return s
}

// canon rewrites an expected token the way render writes the same value:
// times in UTC with trailing zeros dropped, strings quoted only when needed,
// lists without spaces.
func canon(tok string) string {
	switch {
	case strings.HasPrefix(tok, `"`):
		return renderString(unquote(tok))
	case strings.HasPrefix(tok, "["):
		elems, err := splitList(tok)
		if err != nil {
			return tok
		}
		for i, e := range elems {
			elems[i] = canon(e)
		}
		return "[" + strings.Join(elems, ",") + "]"
	}
	if ts, err := time.Parse(time.RFC3339Nano, tok); err == nil {
		return ts.UTC().Format(timeLayout)
	}
	return tok
}

// format lays a table out in aligned columns for failure messages.
func (tb *pitTable) format() string {
	lines := [][]string{{}}
	for _, c := range tb.Cols {
		lines[0] = append(lines[0], c.Name)
	}
	lines = append(lines, tb.Rows...)
	width := map[int]int{}
	for _, l := range lines {
		for i, s := range l {
			width[i] = max(width[i], len(s))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  ")
		for i, s := range l {
			fmt.Fprintf(&b, "%-*s ", width[i], s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// diffTables compares the column names and the rows of got and want.
func diffTables(got, want *pitTable) string {
	var gotNames, wantNames []string
	for _, c := range got.Cols {
		gotNames = append(gotNames, c.Name)
	}
	for _, c := range want.Cols {
		wantNames = append(wantNames, c.Name)
	}
	var problems []string
	if !slices.Equal(gotNames, wantNames) {
		problems = append(problems, fmt.Sprintf("columns %q, want %q", gotNames, wantNames))
	}
	if len(got.Rows) != len(want.Rows) {
		problems = append(problems, fmt.Sprintf("%d rows, want %d", len(got.Rows), len(want.Rows)))
	}
	for i := range min(len(got.Rows), len(want.Rows)) {
		g, w := got.Rows[i], want.Rows[i]
		for j := range max(len(g), len(w)) {
			var gv, wv, name string
			if j < len(g) {
				gv = g[j]
			}
			if j < len(w) {
				wv = canon(w[j])
			}
			if j < len(wantNames) {
				name = wantNames[j]
			}
			if gv != wv {
				problems = append(problems, fmt.Sprintf("row %d column %d (%s): got %s, want %s", i+1, j+1, name, gv, wv))
			}
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "\n") + "\ngot:\n" + got.format() + "want:\n" + want.format()
}

func TestPointInTime(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "pit", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no cases in testdata/pit")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parsePIT(string(data))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got, err := runPIT(t, c)
			switch {
			case c.WantErr != "" && err == nil:
				t.Fatalf("export succeeded, want an error containing %q; got:\n%s", c.WantErr, got.format())
			case c.WantErr != "":
				if !strings.Contains(err.Error(), c.WantErr) {
					t.Fatalf("export error %q, want it to contain %q", err, c.WantErr)
				}
			case err != nil:
				t.Fatalf("export: %v", err)
			default:
				if d := diffTables(got, c.Want); d != "" {
					t.Errorf("%s:\n%s", file, d)
				}
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"1 2024-05-01T10:00:00Z 0.5", []string{"1", "2024-05-01T10:00:00Z", "0.5"}},
		{`"a b" [1.5, 2.5] null`, []string{`"a b"`, "[1.5, 2.5]", "null"}},
		{`["x y", "]"] z`, []string{`["x y", "]"]`, "z"}},
		{`"quote \" inside" x`, []string{`"quote \" inside"`, "x"}},
	} {
		got, err := tokenize(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("tokenize(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}
