package pipelines

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// OpenDB opens a DuckDB database to materialize defs in, locked (see
// duck.Options.Locked) to the files of their sources and the offline store:
// the views' SQL can read no other file, write nowhere else, load no
// extension and change no setting. The caller must Close it.
func OpenDB(cfg *registry.Config, defs *registry.Definitions) (*duck.DB, error) {
	opts := duck.Options{Locked: true, AllowedDirs: []string{cfg.Abs(cfg.OfflineStore.Path)}}
	for _, src := range defs.Sources {
		dirs, files := sourceFiles(cfg, src)
		opts.AllowedDirs = append(opts.AllowedDirs, dirs...)
		opts.AllowedFiles = append(opts.AllowedFiles, files...)
	}
	return duck.Open(opts)
}

// sourceFiles returns where the files of src are: the directory of a glob,
// up to its first pattern, or the one file a path without patterns names.
func sourceFiles(cfg *registry.Config, src *registry.Source) (dirs, files []string) {
	if !src.HasFiles() {
		return nil, nil
	}
	path := cfg.Abs(src.Path)
	if !hasPattern(path) {
		return nil, []string{path}
	}
	for hasPattern(path) {
		path = filepath.Dir(path)
	}
	return []string{path}, nil
}

// hasPattern reports whether path has characters DuckDB's globs match with.
func hasPattern(path string) bool { return strings.ContainsAny(path, "*?[{") }

// sourceRelation returns a SQL expression for the rows of src, or an error
// wrapping registry.ErrNoData when its files do not exist yet.
func sourceRelation(cfg *registry.Config, src *registry.Source) (string, error) {
	if !src.HasFiles() {
		return "", fmt.Errorf("source %q is a %s source, which has no files", src.Name, src.Format)
	}
	glob := cfg.Abs(src.Path)
	if !strings.Contains(glob, "**") {
		matches, err := filepath.Glob(glob)
		if err != nil {
			return "", fmt.Errorf("source %q: bad path pattern %q: %w", src.Name, src.Path, err)
		}
		if len(matches) == 0 {
			return "", fmt.Errorf("source %q: no files match %s: %w", src.Name, src.Path, registry.ErrNoData)
		}
	}
	return fileRelation(duck.Quote(glob), src), nil
}

// fileRelation returns a SQL expression for the rows of the files of src
// that paths, a SQL string (a glob) or list of strings, names.
func fileRelation(paths string, src *registry.Source) string {
	if src.Format == registry.FormatParquet {
		return fmt.Sprintf("read_parquet(%s, union_by_name = true, hive_partitioning = false)", paths)
	}
	return readCSV(paths, src)
}

// readCSV returns a SQL expression for the rows of the CSV files that
// paths, a SQL string or list of strings, names, read as those of src are.
func readCSV(paths string, src *registry.Source) string {
	opts := "header = true, hive_partitioning = false"
	if len(src.Schema) > 0 {
		types := make([]string, len(src.Schema))
		for i, f := range src.Schema {
			types[i] = fmt.Sprintf("%s: %s", duck.Quote(f.Name), duck.Quote(duck.TypeName(f.Type)))
		}
		opts += ", types = {" + strings.Join(types, ", ") + "}"
	}
	return fmt.Sprintf("read_csv(%s, %s)", paths, opts)
}

// viewQuery returns the query computing the view's input rows: the view's
// SQL over its source, or the source's rows as they are. The view's SQL
// must be exactly one SELECT statement, which DuckDB's parser checks
// through q before anything runs; when it is not, the error is a
// *registry.SQLError, whether or not the source has data. The query ends
// with a newline, so that a trailing line comment in the view's SQL cannot
// swallow text put after it. relation returns the source's rows as a SQL
// expression, or an error wrapping registry.ErrNoData.
func viewQuery(ctx context.Context, q duck.Querier, view *registry.FeatureView, relation func() (string, error)) (string, error) {
	body := strings.TrimSpace(view.SQL)
	if body != "" {
		if err := checkQuery(ctx, q, view, body, "%s"); err != nil {
			return "", err
		}
	}
	rel, err := relation()
	if err != nil {
		return "", err
	}
	if body == "" {
		return "SELECT * FROM " + rel + "\n", nil
	}
	// The view's SQL is a subquery, which may have a WITH clause of its own.
	query := fmt.Sprintf("WITH source AS (SELECT * FROM %s)\nSELECT * FROM (\n%s\n)\n", rel, withoutTerminator(body))
	if err := checkQuery(ctx, q, view, query, "cannot be put in a query over the source: as a subquery, it %s"); err != nil {
		return "", err
	}
	return query, nil
}

// checkQuery returns a *registry.SQLError, its problem put in format, when
// query, the view's SQL or a query made of it, is not exactly one SELECT
// statement.
func checkQuery(ctx context.Context, q duck.Querier, view *registry.FeatureView, query, format string) error {
	problem, err := duck.CheckQuery(ctx, q, query)
	if err != nil {
		return fmt.Errorf("feature view %q: %w", view.Name, err)
	}
	if problem != "" {
		return &registry.SQLError{View: view.Name, Problem: fmt.Sprintf(format, problem)}
	}
	return nil
}

// withoutTerminator returns query, one statement, without the ';' that may
// end it and the blanks and comments around that, so that it can be put in
// parentheses. It knows DuckDB's strings, quoted names, dollar-quoted
// strings and comments; anything it misreads fails the check of the
// query it is put in.
func withoutTerminator(query string) string {
	end := 0 // just after the last character that is not a blank, a comment or ';'
	for i := 0; i < len(query); {
		rest := query[i:]
		switch {
		case strings.HasPrefix(rest, "--"):
			n := strings.IndexByte(rest, '\n')
			if n < 0 {
				return query[:end]
			}
			i += n
		case strings.HasPrefix(rest, "/*"):
			i += blockCommentLen(rest)
		case rest[0] == '\'' || rest[0] == '"':
			i += quotedLen(rest, rest[:1])
			end = i
		case rest[0] == '$' && dollarTag(rest) != "":
			i += quotedLen(rest, dollarTag(rest))
			end = i
		case strings.IndexByte("; \t\n\r\f\v", rest[0]) >= 0:
			i++
		default:
			i++
			end = i
		}
	}
	return query[:end]
}

// quotedLen is the length of the quoted text at the start of s, between
// two delims, or of all of s when it is not closed.
func quotedLen(s, delim string) int {
	n := strings.Index(s[len(delim):], delim)
	if n < 0 {
		return len(s)
	}
	return len(delim) + n + len(delim)
}

// blockCommentLen is the length of the /* comment */ at the start of s,
// which may nest, or of all of s when it is not closed.
func blockCommentLen(s string) int {
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch s[i : i+2] {
		case "/*":
			depth++
			i++
		case "*/":
			depth--
			i++
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ or $$ opening a dollar-quoted string at the
// start of s, or "".
func dollarTag(s string) string {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			return s[:i+1]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 1 && c >= '0' && c <= '9':
		default:
			return ""
		}
	}
	return ""
}

// errStatementTimeout ends the context of a statement that ran longer than
// pipelines.statement_timeout.
var errStatementTimeout = errors.New("pipelines.statement_timeout reached")

// bounded runs a statement of a view's pipeline with ctx bounded by
// pipelines.statement_timeout (none for a Config LoadConfig did not make),
// and says so when that bound cancelled it.
func bounded(ctx context.Context, cfg *registry.Config, run func(context.Context) error) error {
	d := cfg.StatementTimeout()
	if d <= 0 {
		return run(ctx)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d, errStatementTimeout)
	defer cancel()
	err := run(ctx)
	if err != nil && errors.Is(context.Cause(ctx), errStatementTimeout) {
		return fmt.Errorf("cancelled after pipelines.statement_timeout (%s); make the query cheaper, or raise the setting in %s: %w", d, registry.ConfigFile, err)
	}
	return err
}

// describeInput returns the columns of query, the input rows of a view over
// src, within pipelines.statement_timeout. When a CSV source cannot be
// read, it names the first of its files that cannot be read alone: DuckDB
// does not always say which file of a glob is ragged or empty. files are the
// source's files when the caller listed them, nil to find them with its
// path.
func describeInput(ctx context.Context, q duck.Querier, cfg *registry.Config, src *registry.Source, query string, files []string) ([]registry.Column, error) {
	var cols []registry.Column
	err := bounded(ctx, cfg, func(ctx context.Context) error {
		var err error
		cols, err = duck.Describe(ctx, q, query)
		switch {
		case duck.Denied(err):
			return fmt.Errorf("a view's SQL reads only the files of its source: %w", err)
		case err != nil && src.Format == registry.FormatCSV:
			return blameFile(ctx, q, cfg, src, err, files)
		}
		return err
	})
	return cols, err
}

// blameFile returns err, from reading CSV source src, naming the first of
// its files that cannot be described alone; or err as it is when the
// source can be, and the view's SQL is at fault. files are the source's
// files, or nil to list them with its path.
func blameFile(ctx context.Context, q duck.Querier, cfg *registry.Config, src *registry.Source, err error, files []string) error {
	paths := duck.QuoteList(files)
	if files == nil {
		paths = duck.Quote(cfg.Abs(src.Path))
		listed, gerr := glob(ctx, q, cfg.Abs(src.Path))
		if gerr != nil {
			return err
		}
		files = listed
	}
	if _, serr := duck.Describe(ctx, q, "SELECT * FROM "+readCSV(paths, src)); serr == nil {
		return err
	}
	for _, f := range files {
		if _, ferr := duck.Describe(ctx, q, "SELECT * FROM "+readCSV(duck.Quote(f), src)); ferr != nil {
			if rel, rerr := filepath.Rel(cfg.Dir, f); rerr == nil && !strings.HasPrefix(rel, "..") {
				f = rel
			}
			return fmt.Errorf("file %s: %w", f, ferr)
		}
	}
	return err
}

// glob returns the files that pattern matches, in path order, as DuckDB
// lists them for read_parquet and read_csv.
func glob(ctx context.Context, q duck.Querier, pattern string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT file FROM glob(?) ORDER BY file", pattern)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var files []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, rows.Err()
}
