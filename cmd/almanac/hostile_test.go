package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostileSQL are feature view queries that try to run code, write files,
// read files outside the sources or change settings: plan rejects each as
// a problem at the line of the view's sql key, and leaves no file behind.
// $OUT is a directory outside the repository, $REPO the repository.
var hostileSQL = []struct {
	name, sql string
	want      string // in the problem
}{
	{
		name: "copy between selects",
		sql:  "SELECT driver_id, event_ts, fare FROM source; COPY (SELECT 'owned') TO '$OUT/owned.csv'; SELECT * FROM (VALUES ('driver_id','BIGINT'),('event_ts','TIMESTAMP WITH TIME ZONE'),('fare','DOUBLE')) t(column_name, column_type)",
		want: "is not a SELECT statement",
	},
	{name: "second statement", sql: "SELECT driver_id, event_ts, fare FROM source; SELECT 1", want: "has 2 statements"},
	{name: "copy", sql: "COPY (SELECT 'owned') TO '$OUT/owned.csv'", want: "is not a SELECT statement"},
	{name: "copy parquet", sql: "COPY (SELECT 'owned' AS x) TO '$OUT/owned.parquet' (FORMAT parquet)", want: "is not a SELECT statement"},
	{name: "attach", sql: "ATTACH '$OUT/owned.db'", want: "is not a SELECT statement"},
	{name: "attach then select", sql: "ATTACH '$OUT/owned.db' AS o; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "export database", sql: "EXPORT DATABASE '$OUT/export'", want: "is not a SELECT statement"},
	{name: "install", sql: "INSTALL httpfs", want: "is not a SELECT statement"},
	{name: "load", sql: "LOAD httpfs; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "set", sql: "SET enable_external_access = true; SELECT driver_id, event_ts, fare FROM source", want: "is not a SELECT statement"},
	{name: "pragma", sql: "PRAGMA enable_profiling", want: "is not a SELECT statement"},
	{name: "create", sql: "CREATE TABLE owned AS SELECT 1", want: "is not a SELECT statement"},
	{name: "query function", sql: "SELECT * FROM query('COPY (SELECT 1) TO ''$OUT/owned.csv''')", want: "sql does not run"},
	{name: "read_csv outside", sql: "SELECT driver_id, event_ts, fare FROM source, read_csv('$OUT/secret.csv')", want: "Permission Error"},
	{name: "read_csv /etc/passwd", sql: "SELECT driver_id, event_ts, fare FROM source, read_csv('/etc/passwd')", want: "Permission Error"},
	{name: "read_text outside", sql: "SELECT driver_id, event_ts, fare FROM source, read_text('$OUT/secret.csv')", want: "Permission Error"},
	{name: "glob outside", sql: "SELECT driver_id, event_ts, fare FROM source, glob('$OUT/*')", want: "Permission Error"},
	{name: "a repository file that is no source's", sql: "SELECT driver_id, event_ts, fare FROM source, read_text('$REPO/almanac.yaml')", want: "Permission Error"},
	{name: "network", sql: "SELECT driver_id, event_ts, fare FROM read_csv('http://127.0.0.1:9/trips.csv')", want: "Permission Error"},
	{name: "comment only", sql: "-- SELECT driver_id, event_ts, fare FROM source", want: "has no statement"},
}

func TestPlanRejectsHostileSQL(t *testing.T) {
	dir := initDemo(t)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "secret.csv"), []byte("secret\nhunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const sqlLine = 5
	for _, tc := range hostileSQL {
		t.Run(tc.name, func(t *testing.T) {
			query := strings.NewReplacer("$OUT", out, "$REPO", dir).Replace(tc.sql)
			view := "kind: FeatureView\nname: hostile\nentities: [driver]\nsource: trips\nsql: |\n  " + query + "\nfeatures:\n  - {name: fare, type: float64}\n"
			file := filepath.Join(dir, "hostile.yaml")
			if err := os.WriteFile(file, []byte(view), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(file)
			repoBefore, outBefore := tree(t, dir), tree(t, out)

			code, stdout, stderr := almanac(t, "--repo", dir, "plan")
			if code != exitError {
				t.Fatalf("plan: exit %d, want %d\n%s%s", code, exitError, stdout, stderr)
			}
			for _, want := range []string{fmt.Sprintf("hostile.yaml:%d: feature view \"hostile\": ", sqlLine), tc.want} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if got := tree(t, dir); !slices.Equal(got, repoBefore) {
				t.Errorf("plan changed the repository: %q, was %q", got, repoBefore)
			}
			if got := tree(t, out); !slices.Equal(got, outBefore) {
				t.Errorf("plan wrote outside the repository: %q, was %q", got, outBefore)
			}
		})
	}
}

// tree lists the files and directories below dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		paths = append(paths, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestPlanReadsOnlyRepositoryFiles checks that plan reads a source's files
// only in the repository and outside its hidden directories: a change
// pointing a source at a file elsewhere, at .git, or through a link, learns
// nothing of it (not even its header, which a describe would show), and a
// view over a repository-wide glob cannot read .git either.
func TestPlanReadsOnlyRepositoryFiles(t *testing.T) {
	const secret = "tok_leaked_header"
	tests := []struct {
		name   string
		path   string // the source's path; $OUT is outside the repository
		sql    string // the view's sql, if any
		exit   int
		stderr string // in stderr, when exit is exitError
	}{
		{name: "file outside", path: "$OUT/secret.csv", exit: exitOK},
		{name: "glob outside", path: "$OUT/*.csv", exit: exitOK},
		{name: "relative path out", path: "../outside/secret.csv", exit: exitOK},
		{name: "git config", path: ".git/config", exit: exitOK},
		{name: "glob into a hidden directory", path: ".git/*", exit: exitOK},
		{name: "link to a file outside", path: "data/links/*.csv", exit: exitOK},
		{
			name: "repository-wide glob, sql reads .git", path: "**/*.csv",
			sql:  "SELECT driver_id, event_ts, fare FROM source, read_text('$REPO/.git/config')",
			exit: exitError, stderr: "Permission Error",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := initDemo(t)
			out := filepath.Join(filepath.Dir(dir), "outside")
			for path, content := range map[string]string{
				filepath.Join(out, "secret.csv"):              secret + "\n1\n",
				filepath.Join(dir, ".git", "config"):          secret + "\n1\n",
				filepath.Join(dir, "data", "sneaky", "a.csv"): "driver_id,event_ts,fare\n1,2024-05-01T00:00:00Z,1.5\n",
			} {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(filepath.Join(dir, "data", "links"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(out, "secret.csv"), filepath.Join(dir, "data", "links", "trips.csv")); err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("$OUT", out, "$REPO", dir)
			defs := fmt.Sprintf("kind: Source\nname: sneaky\nformat: csv\npath: \"%s\"\ntimestamp_field: event_ts\n---\n"+
				"kind: FeatureView\nname: sneaky_stats\nentities: [driver]\nsource: sneaky\nfeatures:\n  - {name: fare, type: float64}\n", r.Replace(tc.path))
			if tc.sql != "" {
				defs += "sql: |\n  " + r.Replace(tc.sql) + "\n"
			}
			if err := os.WriteFile(filepath.Join(dir, "sneaky.yaml"), []byte(defs), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := almanac(t, "--repo", dir, "plan")
			if code != tc.exit {
				t.Fatalf("plan: exit %d, want %d\n%s%s", code, tc.exit, stdout, stderr)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("plan showed what the file holds:\n%s%s", stdout, stderr)
			}
		})
	}
}
