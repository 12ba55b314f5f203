package duck

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac-fs/almanac/registry"
)

func TestTypeOf(t *testing.T) {
	for _, tc := range []struct {
		duck string
		want registry.Type
	}{
		{"BIGINT", registry.TypeInt64},
		{"INTEGER", registry.TypeInt32},
		{"DECIMAL(18,3)", registry.TypeFloat64},
		{"FLOAT", registry.TypeFloat32},
		{"TIMESTAMP WITH TIME ZONE", registry.TypeTimestamp},
		{"TIMESTAMP_NS", registry.TypeTimestamp},
		{"VARCHAR", registry.TypeString},
		{"FLOAT[]", registry.ListOf(registry.Float32)},
		{"INTEGER[][]", registry.Type{}},
		{"STRUCT(a INTEGER)", registry.Type{}},
	} {
		if got := TypeOf(tc.duck); got != tc.want {
			t.Errorf("TypeOf(%q) = %v, want %v", tc.duck, got, tc.want)
		}
	}
}

func TestCheckQuery(t *testing.T) {
	db := openTest(t, Options{})
	for _, tc := range []struct {
		name, query string
		want        string // a substring of the problem; empty for a query
	}{
		{name: "select", query: "SELECT 1 AS a"},
		{name: "with select", query: "WITH a AS (SELECT 1 AS x) SELECT x FROM a"},
		{name: "from first", query: "FROM source"},
		{name: "values", query: "VALUES (1, 2)"},
		{name: "trailing semicolon", query: "SELECT 1;\n"},
		{name: "trailing comment", query: "SELECT 1 -- the end"},
		{name: "two statements", query: "SELECT 1; SELECT 2", want: "has 2 statements"},
		{name: "copy after a select", query: "SELECT 1; COPY (SELECT 1) TO 'x.csv'", want: "is not a SELECT statement"},
		{name: "copy", query: "COPY (SELECT 1) TO 'x.csv'", want: "is not a SELECT statement"},
		{name: "attach", query: "ATTACH 'x.db'", want: "is not a SELECT statement"},
		{name: "install", query: "INSTALL httpfs", want: "is not a SELECT statement"},
		{name: "load", query: "LOAD httpfs", want: "is not a SELECT statement"},
		{name: "set", query: "SET enable_external_access = true", want: "is not a SELECT statement"},
		{name: "pragma", query: "PRAGMA enable_profiling", want: "is not a SELECT statement"},
		{name: "create", query: "CREATE TABLE t AS SELECT 1", want: "is not a SELECT statement"},
		{name: "only a comment", query: "-- nothing", want: "has no statement"},
		{name: "syntax error", query: "SELEC 1", want: `does not parse: syntax error at or near "SELEC"; fix the query`},
		{name: "syntax error at a long name", query: "SELECT 1 AS a " + strings.Repeat("x", 1000), want: `does not parse: syntax error at or near "xxx`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckQuery(t.Context(), db, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) || len(got) > 2*registry.MaxQuoted+100 {
				t.Errorf("CheckQuery(%q) = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

// TestDescribeRunsNothing checks that Describe refuses more than one
// statement, where DESCRIBE would run all but the last and return the last
// one's rows (an index out of range on a one-column result).
func TestDescribeRunsNothing(t *testing.T) {
	db := openTest(t, Options{})
	out := filepath.Join(t.TempDir(), "owned.csv")
	for _, q := range []string{
		"SELECT 1 AS a; SELECT 1",
		fmt.Sprintf("SELECT 1 AS a; COPY (SELECT 'owned') TO %s; SELECT 'a' AS column_name, 'INTEGER' AS column_type", Quote(out)),
	} {
		if cols, err := Describe(t.Context(), db, q); err == nil || !strings.Contains(err.Error(), "statement") {
			t.Errorf("Describe(%q) = %v, %v; want an error about statements", q, cols, err)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Describe ran a statement: %s exists (%v)", out, err)
	}
}

// TestLocked runs statements that try to escape a locked database: each
// fails and leaves no file behind, while the allowed files stay usable.
func TestLocked(t *testing.T) {
	root := t.TempDir()
	allowed, outside := filepath.Join(root, "allowed"), filepath.Join(root, "outside")
	sibling := allowed + "2" // shares the allowed directory's name as a prefix
	for _, d := range []string{allowed, outside, sibling} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(allowed, "rows.csv"), "a,b\n1,x\n")
	write(filepath.Join(allowed, "rows.jsonl"), `{"a": 1}`+"\n")
	write(filepath.Join(outside, "secret.csv"), "secret\nhunter2\n")
	write(filepath.Join(root, "one.csv"), "a\n7\n")
	write(filepath.Join(sibling, "secret.csv"), "secret\nhunter2\n")
	if err := os.Symlink(filepath.Join(outside, "secret.csv"), filepath.Join(allowed, "link.csv")); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, Options{Locked: true, AllowedDirs: []string{allowed}, AllowedFiles: []string{filepath.Join(root, "one.csv")}})
	in := func(dir, name string) string { return Quote(filepath.Join(dir, name)) }

	for _, tc := range []struct {
		name, stmt string
		creates    string // a file the statement would create
	}{
		{name: "copy to", stmt: "COPY (SELECT 'owned') TO " + in(outside, "owned.csv"), creates: "owned.csv"},
		{name: "copy to parquet", stmt: "COPY (SELECT 'owned' AS x) TO " + in(outside, "owned.parquet") + " (FORMAT parquet)", creates: "owned.parquet"},
		{name: "attach", stmt: "ATTACH " + in(outside, "owned.db"), creates: "owned.db"},
		{name: "export database", stmt: "EXPORT DATABASE " + in(outside, "export"), creates: "export"},
		{name: "install", stmt: "INSTALL httpfs"},
		{name: "load", stmt: "LOAD httpfs"},
		{name: "read_csv outside", stmt: "SELECT * FROM read_csv(" + in(outside, "secret.csv") + ")"},
		{name: "read_csv through a symlink", stmt: "SELECT * FROM read_csv(" + in(allowed, "link.csv") + ")"},
		{name: "read_csv in a directory named like an allowed one", stmt: "SELECT * FROM read_csv(" + in(sibling, "secret.csv") + ")"},
		{name: "read_csv with dot dot", stmt: "SELECT * FROM read_csv(" + in(allowed, "../outside/secret.csv") + ")"},
		{name: "read_text outside", stmt: "SELECT * FROM read_text(" + in(outside, "secret.csv") + ")"},
		{name: "read_blob outside", stmt: "SELECT * FROM read_blob(" + in(outside, "secret.csv") + ")"},
		{name: "glob outside", stmt: "SELECT * FROM glob(" + in(outside, "*") + ")"},
		{name: "http", stmt: "SELECT * FROM read_csv('http://127.0.0.1:9/rows.csv')"},
		{name: "enable external access", stmt: "SET enable_external_access = true"},
		{name: "allow more", stmt: "SET GLOBAL allowed_directories = ['/']"},
		{name: "unlock", stmt: "RESET lock_configuration"},
		{name: "autoload", stmt: "SET autoload_known_extensions = true"},
		{name: "settings change", stmt: "SET threads = 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.QueryContext(t.Context(), tc.stmt)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if err == nil {
				t.Errorf("%s: ran in a locked database", tc.stmt)
			}
			if tc.creates != "" {
				if _, err := os.Stat(filepath.Join(outside, tc.creates)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s created %s (%v)", tc.stmt, tc.creates, err)
				}
			}
		})
	}

	if _, err := Describe(t.Context(), db, "SELECT * FROM read_csv("+in(outside, "secret.csv")+")"); !Denied(err) {
		t.Errorf("describe a read of a file outside: %v, want a refusal Denied reports", err)
	}

	for _, q := range []string{
		"SELECT count(*) FROM read_csv(" + in(allowed, "rows.csv") + ")",
		"SELECT count(*) FROM read_csv(" + in(root, "one.csv") + ")",
		"SELECT count(*) FROM read_json(" + in(allowed, "rows.jsonl") + ", format = 'newline_delimited')",
		"SELECT count(*) FROM (SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' AT TIME ZONE 'Europe/Paris')",
	} {
		var n int
		if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s = %d, %v; want 1 row", q, n, err)
		}
	}
	if _, err := db.ExecContext(t.Context(), "COPY (SELECT 1 AS x) TO "+in(allowed, "x.parquet")+" (FORMAT parquet)"); err != nil {
		t.Errorf("write Parquet in an allowed directory: %v", err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM read_parquet("+in(allowed, "*.parquet")+")").Scan(&n); err != nil || n != 1 {
		t.Errorf("read Parquet in an allowed directory: %d rows, %v", n, err)
	}
}

// TestSettingsOnEveryConnection checks that connections opened after the
// first, which set the database up, share its settings.
func TestSettingsOnEveryConnection(t *testing.T) {
	for _, locked := range []bool{false, true} {
		db := openTest(t, Options{MemoryLimit: "100MB", Locked: locked})
		var conns []*sql.Conn
		for range 3 {
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conns = append(conns, conn)
		}
		for i, conn := range conns {
			var tz, mem, tmp string
			q := "SELECT current_setting('TimeZone'), current_setting('memory_limit'), current_setting('temp_directory')"
			if err := conn.QueryRowContext(t.Context(), q).Scan(&tz, &mem, &tmp); err != nil {
				t.Fatal(err)
			}
			if tz != "UTC" || !strings.HasPrefix(mem, "95") || tmp != db.tmp {
				t.Errorf("locked %v, connection %d: TimeZone %q, memory_limit %q, temp_directory %q; want UTC, 95.3 MiB, %s", locked, i, tz, mem, tmp, db.tmp)
			}
		}
	}
}

func openTest(t *testing.T, opts Options) *DB {
	t.Helper()
	opts.TempDir = cmp.Or(opts.TempDir, t.TempDir())
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}
