package pipelines

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/registry"
)

// Schemas finds the columns a feature view's input has by asking DuckDB to
// describe its query, without reading the rows. A view's SQL must be
// exactly one SELECT statement, and is described in a database locked to
// the files of the view's source (see duck.Options.Locked), so that
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
	db, err := s.db(cfg, src)
	if err != nil {
		return nil, err
	}
	q, err := viewQuery(ctx, db, cfg, src, view)
	if err != nil {
		return nil, err
	}
	cols, err := describeInput(ctx, db, cfg, src, q)
	if err != nil {
		return nil, fmt.Errorf("describe the input of feature view %q: %w", view.Name, err)
	}
	return cols, nil
}

// db returns the database locked to the files of src.
func (s *Schemas) db(cfg *registry.Config, src *registry.Source) (*duck.DB, error) {
	dirs, files := sourceFiles(cfg, src)
	key := fmt.Sprintf("%q %q", dirs, files)
	if db := s.dbs[key]; db != nil {
		return db, nil
	}
	db, err := duck.Open(duck.Options{Locked: true, AllowedDirs: dirs, AllowedFiles: files})
	if err != nil {
		return nil, err
	}
	s.dbs[key] = db
	return db, nil
}
