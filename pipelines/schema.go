package pipelines

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// Schemas finds the columns a feature view's input has by asking DuckDB to
// describe its query, without reading the rows. A view's SQL must be
// exactly one SELECT statement, and is described in a database locked to
// the files of the view's source in the repository (see files and
// duck.Options.Locked), so that
// checking definitions from an untrusted change, as "almanac plan" does on
// a pull request, can neither write a file, read one elsewhere nor change a
// setting. Each statement is bounded by pipelines.statement_timeout.
// Schemas implements registry.SchemaResolver. It is safe for use by one
// goroutine at a time.
type Schemas struct {
	dbs map[string]*duck.DB // by the files they allow
}

var _ registry.SchemaResolver = (*Schemas)(nil)

// NewSchemas returns a resolver whose databases open as sources need them.
// The caller must Close it.
func NewSchemas() *Schemas { return &Schemas{dbs: map[string]*duck.DB{}} }

// Close releases the databases.
func (s *Schemas) Close() error {
	var errs []error
	for _, db := range s.dbs {
		errs = append(errs, db.Close())
	}
	clear(s.dbs)
	return errors.Join(errs...)
}

// ViewColumns implements registry.SchemaResolver.
func (s *Schemas) ViewColumns(ctx context.Context, cfg *registry.Config, src *registry.Source, view *registry.FeatureView) ([]registry.Column, error) {
	files, listErr := s.files(ctx, cfg, src)
	if listErr != nil && !errors.Is(listErr, registry.ErrNoData) {
		return nil, listErr
	}
	db, err := s.db(duck.Options{Locked: true, AllowedFiles: files})
	if err != nil {
		return nil, err
	}
	q, err := viewQuery(ctx, db, view, func() (string, error) {
		if listErr != nil {
			return "", listErr
		}
		return fileRelation(duck.QuoteList(files), src), nil
	})
	if err != nil {
		return nil, err
	}
	cols, err := describeInput(ctx, db, cfg, src, q, files)
	if err != nil {
		return nil, fmt.Errorf("describe the input of feature view %q: %w", view.Name, err)
	}
	return cols, nil
}

// files returns the files of src that plan reads: those its path matches
// in the repository directory, outside its hidden directories (.git,
// .almanac), with their links resolved. Plan may check an untrusted change,
// on a machine whose other files, or whose .git (which can hold a CI
// token), the change's author must not see. A source whose files are
// elsewhere is not checked: the error wraps registry.ErrNoData, and
// materialize checks its columns when it runs.
func (s *Schemas) files(ctx context.Context, cfg *registry.Config, src *registry.Source) ([]string, error) {
	root := cfg.Dir
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	dirs, files := sourceFiles(cfg, src)
	for _, p := range append(slices.Clone(dirs), files...) {
		if !inRepository(cfg.Dir, p) {
			return nil, fmt.Errorf("source %q: %s is not in the repository or is in a hidden directory, which plan does not read: %w", src.Name, registry.Clip(src.Path), registry.ErrNoData)
		}
	}
	db, err := s.db(duck.Options{Locked: true, AllowedDirs: dirs, AllowedFiles: files})
	if err != nil {
		return nil, err
	}
	matched, err := glob(ctx, db, cfg.Abs(src.Path))
	if err != nil {
		return nil, fmt.Errorf("list the files of source %q: %w", src.Name, err)
	}
	var out []string
	for _, f := range matched {
		real, err := filepath.EvalSymlinks(f)
		if err == nil && inRepository(cfg.Dir, f) && inRepository(root, real) {
			out = append(out, real)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("source %q: no files in the repository match %s: %w", src.Name, registry.Clip(src.Path), registry.ErrNoData)
	}
	return out, nil
}

// inRepository reports whether path lies in the repository directory dir
// and in none of its hidden directories.
func inRepository(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part != "." && strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// db returns a database opened with opts, one for each set of allowed
// files.
func (s *Schemas) db(opts duck.Options) (*duck.DB, error) {
	key := fmt.Sprintf("%q %q", opts.AllowedDirs, opts.AllowedFiles)
	if db := s.dbs[key]; db != nil {
		return db, nil
	}
	db, err := duck.Open(opts)
	if err != nil {
		return nil, err
	}
	s.dbs[key] = db
	return db, nil
}
