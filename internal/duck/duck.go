package duck

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/almanac-fs/almanac/internal/values"
	"github.com/almanac-fs/almanac/registry"
)

// DB is an in-memory DuckDB database whose connections all use UTC and
// spill to a private temporary directory, removed by Close.
type DB struct {
	*sql.DB
	tmp  string
	lock *os.File // holds tmp's lock, telling other processes it is in use
}

// Options adjusts Open. The zero value is valid.
type Options struct {
	// MemoryLimit caps DuckDB's memory, e.g. "4GB"; empty leaves DuckDB's
	// default (80% of RAM). Work beyond it spills to disk.
	MemoryLimit string
	// TempDir is where the spill directory is created; empty means os.TempDir().
	TempDir string
	// Locked confines the database for SQL that is not trusted, such as a
	// feature view's: it reads and writes only AllowedDirs, AllowedFiles and
	// its spill directory, reaches no network, installs and loads no
	// extensions (Parquet, JSON and ICU are built in), and its settings
	// cannot be changed.
	Locked bool
	// AllowedDirs are the directories a locked database may use, with
	// everything below them, and AllowedFiles single files. They need not
	// exist yet. Relative paths are made absolute.
	AllowedDirs  []string
	AllowedFiles []string
}

// settings are the statements that set a new database up, in order: a
// locked database's lock comes last, after everything it locks.
func (o Options) settings(tmp string) ([]string, error) {
	s := []string{
		"SET GLOBAL TimeZone = 'UTC'",
		"SET GLOBAL temp_directory = " + Quote(tmp),
	}
	if o.MemoryLimit != "" {
		s = append(s, "SET GLOBAL memory_limit = "+Quote(o.MemoryLimit))
	}
	if !o.Locked {
		return s, nil
	}
	// DuckDB ends each directory with a separator, so that allowing /data
	// does not allow /data2, and resolves the links in what exists of it.
	dirs, err := absAll(o.AllowedDirs)
	if err != nil {
		return nil, err
	}
	files, err := absAll(o.AllowedFiles)
	if err != nil {
		return nil, err
	}
	if len(dirs) > 0 {
		s = append(s, "SET GLOBAL allowed_directories = "+QuoteList(dirs))
	}
	if len(files) > 0 {
		s = append(s, "SET GLOBAL allowed_paths = "+QuoteList(files))
	}
	return append(s,
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL autoload_known_extensions = false",
		"SET GLOBAL lock_configuration = true",
	), nil
}

func absAll(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("allow %s: %w", p, err)
		}
		out[i] = abs
	}
	return out, nil
}

// Open opens a new in-memory database. It first removes the spill
// directories that processes no longer running left in the temporary
// directory.
func Open(opts Options) (*DB, error) {
	removeStale(opts.TempDir)
	tmp, err := os.MkdirTemp(opts.TempDir, spillPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("create duckdb spill directory: %w", err)
	}
	lock, err := lockDir(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("lock duckdb spill directory: %w", err)
	}
	db, err := open(opts, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		closeLock(lock)
		return nil, err
	}
	db.lock = lock
	return db, nil
}

// open sets the database up through a first connection, so that every
// connection after it has the same global settings and none can change a
// locked database's.
func open(opts Options, tmp string) (*DB, error) {
	settings, err := opts.settings(tmp)
	if err != nil {
		return nil, err
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	conn, err := connector.Connect(context.Background())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open duckdb: %w", err), connector.Close())
	}
	for _, s := range settings {
		if _, err = conn.(driver.ExecerContext).ExecContext(context.Background(), s, nil); err != nil {
			err = fmt.Errorf("open duckdb: %s: %w", s, err)
			break
		}
	}
	if err = errors.Join(err, conn.Close()); err != nil {
		return nil, errors.Join(err, connector.Close())
	}
	return &DB{DB: sql.OpenDB(connector), tmp: tmp}, nil
}

// Denied reports whether err is a locked database refusing access to a
// file, the network, an extension or a setting (see Options.Locked).
func Denied(err error) bool {
	e, ok := errors.AsType[*duckdb.Error](err)
	return ok && e.Type == duckdb.ErrorTypePermission
}

// Close closes the database and removes its spill directory.
func (db *DB) Close() error {
	return errors.Join(db.DB.Close(), os.RemoveAll(db.tmp), closeLock(db.lock))
}

func closeLock(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}

// Quote renders s as a SQL string literal.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ident renders s as a SQL identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteList renders strings as a DuckDB list literal: ['a', 'b'].
func QuoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// TypeName is the DuckDB type that holds values of t (values.Kind.DuckDB).
func TypeName(t registry.Type) string {
	k := values.KindOf(t.Elem)
	if k == nil {
		return ""
	}
	if t.List {
		return k.DuckDB + "[]"
	}
	return k.DuckDB
}

// TypeOf maps a DuckDB type name to the Almanac type that holds its values
// (values.Kind.DuckDB and DuckDBReads), or the invalid Type when there is
// none.
func TypeOf(name string) registry.Type {
	name = strings.ToUpper(strings.TrimSpace(name))
	if elem, ok := strings.CutSuffix(name, "[]"); ok {
		t := TypeOf(elem)
		if !t.Valid() || t.List {
			return registry.Type{}
		}
		return registry.ListOf(t.Elem)
	}
	for _, k := range values.Kinds() {
		if name == k.DuckDB {
			return registry.Type{Elem: k.Scalar}
		}
		for _, r := range k.DuckDBReads {
			if prefix, ok := strings.CutSuffix(r, "*"); name == r || ok && strings.HasPrefix(name, prefix) {
				return registry.Type{Elem: k.Scalar}
			}
		}
	}
	return registry.Type{}
}

// Querier runs queries: a *sql.DB, *sql.Conn or *DB.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CheckQuery asks DuckDB's parser, without binding or running anything,
// whether query is exactly one SELECT statement (WITH … SELECT, FROM-first
// queries and VALUES included). When it is not, problem says why and what to
// change, as a clause whose subject is the query ("has 2 statements; ...");
// err is for failing to ask.
func CheckQuery(ctx context.Context, q Querier, query string) (problem string, err error) {
	rows, err := q.QueryContext(ctx, "SELECT CAST(json_serialize_sql(CAST(? AS VARCHAR)) AS VARCHAR)", query)
	if err != nil {
		return "", fmt.Errorf("parse query: %w", err)
	}
	defer rows.Close()
	var out string
	if !rows.Next() {
		return "", fmt.Errorf("parse query: %w", cmp.Or(rows.Err(), sql.ErrNoRows))
	}
	if err := rows.Scan(&out); err != nil {
		return "", fmt.Errorf("parse query: %w", err)
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil {
		return "", fmt.Errorf("parse query: read the parser's answer: %w", err)
	}
	switch {
	case parsed.Error && parsed.ErrorType == "parser":
		return "does not parse: " + registry.Clip(parsed.ErrorMessage) + "; fix the query", nil
	case parsed.Error:
		return "is not a SELECT statement; COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE and other statements are not allowed", nil
	case len(parsed.Statements) == 0:
		return "has no statement, only blanks or comments", nil
	case len(parsed.Statements) > 1:
		return fmt.Sprintf("has %d statements; keep only the query, with no ';' between statements", len(parsed.Statements)), nil
	}
	return "", nil
}

// Describe returns the columns query would produce, without running it.
// The query must be exactly one SELECT statement (see CheckQuery).
func Describe(ctx context.Context, q Querier, query string) ([]registry.Column, error) {
	problem, err := CheckQuery(ctx, q, query)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		return nil, fmt.Errorf("describe a query that %s", problem)
	}
	rows, err := q.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var cols []registry.Column
	for rows.Next() {
		// DESCRIBE returns column_name, column_type and further columns not needed here.
		vals := make([]any, len(names))
		var name, typ sql.NullString
		vals[0], vals[1] = &name, &typ
		for i := 2; i < len(vals); i++ {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("read described columns: %w", err)
		}
		cols = append(cols, registry.Column{Name: name.String, Type: TypeOf(typ.String), DBType: typ.String})
	}
	return cols, rows.Err()
}
