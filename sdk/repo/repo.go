// Package repo drives a feature repository from Go, as the almanac CLI
// does: it runs feature pipelines into the offline and online stores and
// exports point-in-time-correct training sets, as Parquet files or as Arrow
// tables, recording them as datasets that drift checks compare serving
// with.
//
// It works on the repository's files and stores directly, with DuckDB
// embedded (cgo). Serving applications use package sdk instead, which talks
// to the feature server and needs neither.
package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/internal/stores"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/pipelines"
	"github.com/almanac-fs/almanac/registry"
)

// Repo is a feature repository with the definitions last applied to its
// registry. Several goroutines may use it at once; Close it when done.
type Repo struct {
	dir      string
	cfg      *registry.Config
	defs     *registry.Definitions
	registry *registry.Store
	offline  *offline.Store
	db       *duck.DB
}

// ErrNotApplied is returned by Open for a repository whose definitions were
// never applied.
var ErrNotApplied = errors.New("repo: nothing applied yet")

// Apply validates the definitions of the feature repository in dir, as
// "almanac apply" does, and stores them as the registry's next version when
// they differ from the current one. Destructive changes are refused with an
// error wrapping registry.ErrDestructive unless allowDestructive. It returns
// the plan applied.
func Apply(ctx context.Context, dir string, allowDestructive bool) (*registry.Plan, error) {
	schemas := pipelines.NewSchemas()
	defer schemas.Close()
	repo, err := registry.Load(ctx, dir, registry.LoadOptions{Schemas: schemas})
	if err != nil {
		return nil, err
	}
	store := stores.Registry(repo.Config)
	plan, _, err := registry.Apply(ctx, store, repo.Config.Project, repo.Defs, allowDestructive)
	return plan, err
}

// Open opens the feature repository in dir (the directory of almanac.yaml)
// with the definitions of its registry's current version.
func Open(dir string) (*Repo, error) {
	cfg, err := registry.LoadConfig(dir, nil)
	if err != nil {
		return nil, err
	}
	reg := stores.Registry(cfg)
	cur, err := reg.Current()
	if errors.Is(err, registry.ErrNoVersion) {
		return nil, fmt.Errorf("%w in %s; run \"almanac apply\" first", ErrNotApplied, dir)
	}
	if err != nil {
		return nil, err
	}
	defs, err := registry.DefinitionsFromProto(cur)
	if err != nil {
		return nil, err
	}
	db, err := duck.Open(duck.Options{})
	if err != nil {
		return nil, err
	}
	return &Repo{dir: dir, cfg: cfg, defs: defs, registry: reg, offline: stores.Offline(cfg), db: db}, nil
}

// Close releases the repository's DuckDB database.
func (r *Repo) Close() error { return r.db.Close() }

// Config returns the repository's settings.
func (r *Repo) Config() *registry.Config { return r.cfg }

// Definitions returns the applied definitions. They must not be changed.
func (r *Repo) Definitions() *registry.Definitions { return r.defs }

// MaterializeOptions adjusts a materialization. The zero value runs every
// view into both stores.
type MaterializeOptions struct {
	// Views are the feature views to run; empty means all.
	Views []string
	// OfflineOnly leaves the online store alone.
	OfflineOnly bool
	// Strict fails a view's run, writing nothing, when its rows break a
	// data-quality expectation.
	Strict bool
	// Progress, if set, is told how each view's run advances.
	Progress func(pipelines.Progress)
}

// Materialize runs the pipelines of the views for the event times
// [start, end): each view's rows replace that range of its offline history,
// and the latest row of each entity goes to the online store, which keeps
// the newer of what it holds and what it gets. It returns a result per view,
// including those that succeeded when another failed. The embedded online
// store is opened for the run only, and cannot be while a server has it.
func (r *Repo) Materialize(ctx context.Context, start, end time.Time, opts MaterializeOptions) ([]pipelines.Result, error) {
	if !start.Before(end) {
		return nil, fmt.Errorf("materialize: start %s is not before end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return r.materialize(opts, func(m *pipelines.Materializer, views []*registry.FeatureView) ([]pipelines.Result, error) {
		return m.Run(ctx, views, start, end)
	})
}

// MaterializeIncremental is Materialize from each view's watermark (the end
// of its latest materialized range, or its first event) to end.
func (r *Repo) MaterializeIncremental(ctx context.Context, end time.Time, opts MaterializeOptions) ([]pipelines.Result, error) {
	return r.materialize(opts, func(m *pipelines.Materializer, views []*registry.FeatureView) ([]pipelines.Result, error) {
		return m.RunIncremental(ctx, views, end)
	})
}

func (r *Repo) materialize(opts MaterializeOptions, run func(*pipelines.Materializer, []*registry.FeatureView) ([]pipelines.Result, error)) (_ []pipelines.Result, err error) {
	views, err := pipelines.Views(r.defs, opts.Views)
	if err != nil {
		return nil, err
	}
	// The views' SQL runs in a database of its own, locked to the files of
	// the sources and the offline store.
	db, err := pipelines.OpenDB(r.cfg, r.defs)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	m := &pipelines.Materializer{Config: r.cfg, Defs: r.defs, Offline: r.offline, DB: db, Strict: opts.Strict, Progress: opts.Progress}
	if !opts.OfflineOnly {
		if m.Online, err = stores.Online(r.cfg, stores.OnlineOptions{}); err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, m.Online.Close()) }()
	}
	return run(m, views)
}

// TrainingSet asks for a point-in-time-correct training set: the features
// of a feature service, or a list of references, joined to entity rows.
type TrainingSet struct {
	// FeatureService names the service whose features to take; or
	// Features lists references, "view:feature" or "view" for all of a
	// view's features.
	FeatureService string
	Features       []string
	// EntityFile is a Parquet or CSV file of entity rows: every join key
	// the views need, an event-time column and any other columns (labels),
	// which pass through. Or Entities holds them in memory.
	EntityFile string
	Entities   arrow.Table
	// TimestampColumn names the entity rows' event time; empty means
	// "event_timestamp". Times without a zone are UTC.
	TimestampColumn string
	// FullNames names feature columns view__feature instead of feature.
	FullNames bool
	// Dataset, if set, records the export in the registry under this name,
	// with a statistics profile of its features for drift checks. Only
	// Export records datasets, since they name their file.
	Dataset string
	// Overwrite lets Export replace an existing output file and a dataset
	// of the same name (the CLI's --force). Even with it, Export never
	// writes its own entity file, nor into the repository's .almanac
	// directory, registry or stores.
	Overwrite bool
	// Strict fails the export with ErrUnmatched, leaving no file and
	// recording no dataset, when a feature has no value in any entity
	// row (ExportResult.Unmatched).
	Strict bool
}

// Export writes the training set ts to the Parquet file out. For every
// entity row, in order, each feature's value comes from the row of its
// view with the same join keys and the greatest event time t with entity
// time - ttl <= t <= entity time; null when there is none.
//
// The file is written beside out under a hidden name and renamed to out
// once complete, so a failed export leaves whatever out held. Export
// refuses, before any work, an out that is the entity file or lies in the
// repository's .almanac directory, registry or stores (ErrOutputProtected),
// and one that exists unless ts.Overwrite (ErrOutputExists). Features with
// no value in any row are listed in the result's Unmatched.
func (r *Repo) Export(ctx context.Context, ts TrainingSet, out string) (*ExportResult, error) {
	out, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	if ts.Dataset != "" && !ts.Overwrite {
		if err := r.datasetFree(ts.Dataset); err != nil {
			return nil, err
		}
	}
	if err := r.checkOutput(out, ts.EntityFile, ts.Overwrite); err != nil {
		return nil, err
	}
	refs, err := r.refs(ts)
	if err != nil {
		return nil, err
	}
	entities, cleanup, err := r.entityFile(ts)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var name string
	if ts.EntityFile == "" {
		name = "of the Entities table"
	}
	tmp, err := tempOutput(out)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	written, err := r.offline.Export(ctx, r.db, offline.ExportRequest{
		Defs: r.defs, Refs: refs, EntityPath: entities, EntityName: name, TimestampColumn: ts.TimestampColumn, OutPath: tmp, FullNames: ts.FullNames,
	})
	if err != nil {
		return nil, err
	}
	res := &ExportResult{ExportResult: *written}
	if res.Unmatched, err = r.unmatched(ctx, tmp, written); err != nil {
		return nil, err
	}
	if ts.Strict && len(res.Unmatched) > 0 {
		msgs := make([]string, len(res.Unmatched))
		for i, u := range res.Unmatched {
			msgs[i] = u.String()
		}
		return res, fmt.Errorf("%w: %s; nothing was written", ErrUnmatched, strings.Join(msgs, ", "))
	}
	if err := publish(tmp, out, ts.Overwrite); err != nil {
		return nil, err
	}
	if ts.Dataset == "" {
		return res, nil
	}
	if ts.EntityFile == "" {
		entities = "(in memory)"
	}
	if err := r.record(ctx, ts, written, entities, out); err != nil {
		return res, fmt.Errorf("the training set is in %s, but: %w", out, err)
	}
	return res, nil
}

// Read returns the training set ts as an Arrow table, which the caller
// releases. The join runs in DuckDB as Export's does, spilling to disk when
// it must; the table it returns is held in memory.
func (r *Repo) Read(ctx context.Context, ts TrainingSet) (arrow.Table, *ExportResult, error) {
	if ts.Dataset != "" {
		return nil, nil, errors.New("read: a dataset names its file; use Export to record one")
	}
	dir, err := os.MkdirTemp("", "almanac-training-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "training.parquet")
	res, err := r.Export(ctx, ts, path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(ctx, f, parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{Parallel: true, BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, nil, fmt.Errorf("read training set: %w", err)
	}
	return tbl, res, nil
}

// refs resolves the features a training set asks for.
func (r *Repo) refs(ts TrainingSet) ([]registry.FeatureRef, error) {
	switch {
	case ts.FeatureService != "" && len(ts.Features) > 0:
		return nil, errors.New("training set: set FeatureService or Features, not both")
	case ts.FeatureService != "":
		s, err := r.defs.LookupService(ts.FeatureService)
		if err != nil {
			return nil, err
		}
		return s.Features, nil
	case len(ts.Features) > 0:
		return registry.ParseFeatureRefs(ts.Features)
	}
	return nil, errors.New("training set: set FeatureService or Features")
}

// entityFile returns the path of the training set's entity rows, writing
// in-memory ones to a temporary Parquet file that cleanup removes.
func (r *Repo) entityFile(ts TrainingSet) (path string, cleanup func(), err error) {
	switch {
	case ts.EntityFile != "" && ts.Entities != nil:
		return "", nil, errors.New("training set: set EntityFile or Entities, not both")
	case ts.EntityFile != "":
		path, err := filepath.Abs(ts.EntityFile)
		return path, func() {}, err
	case ts.Entities == nil:
		return "", nil, errors.New("training set: set EntityFile or Entities")
	}
	f, err := os.CreateTemp("", "almanac-entities-*.parquet")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.Remove(f.Name()) }
	// The writer closes what it writes to when it ends; the file is closed
	// here, once.
	err = pqarrow.WriteTable(ts.Entities, struct{ io.Writer }{f}, 64<<10, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err = errors.Join(err, f.Close()); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write entity rows: %w", err)
	}
	return f.Name(), cleanup, nil
}

// record stores an export as a dataset, with the profile of its features.
func (r *Repo) record(ctx context.Context, ts TrainingSet, res *offline.ExportResult, entities, out string) error {
	rel, err := drift.FileRelation(out)
	if err != nil {
		return err
	}
	profile, err := drift.Compute(ctx, r.db, rel, drift.DatasetColumns(r.defs, res.Features, res.Columns), "dataset "+ts.Dataset)
	if err != nil {
		return err
	}
	if err := profile.Save(drift.ProfilePath(r.offline, ts.Dataset)); err != nil {
		return err
	}
	ds := &registry.Dataset{Name: ts.Dataset, FeatureService: ts.FeatureService, Features: res.Features, EntityPath: entities,
		OutputPath: out, RowCount: res.Rows, Start: res.Start, End: res.End, CreatedAt: time.Now().UTC()}
	_, err = registry.RecordDataset(ctx, r.registry, ds, ts.Overwrite)
	return err
}

// datasetFree checks, before the work of an export, that the registry holds
// no dataset called name.
func (r *Repo) datasetFree(name string) error {
	cur, err := r.registry.Current()
	if err != nil {
		return err
	}
	for _, d := range cur.GetDatasets() {
		if d.GetName() == name {
			return fmt.Errorf("dataset %q: %w; choose another name or set Overwrite", name, registry.ErrExists)
		}
	}
	return nil
}
