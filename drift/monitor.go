package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/almanac-fs/almanac/internal/duck"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// ErrNoProfile is returned for a dataset recorded without a profile.
var ErrNoProfile = errors.New("drift: dataset has no profile")

// CheckDataset compares the data of relation (described as source) with the
// profile of the dataset, judging each feature with the thresholds of its
// view and of service (the dataset's own feature service when empty).
func CheckDataset(ctx context.Context, db *duck.DB, store *offline.Store, defs *registry.Definitions, dataset, service, relation, source string) (*Report, error) {
	ds := defs.Dataset(dataset)
	if ds == nil {
		return nil, fmt.Errorf("dataset %q not found; record one with \"almanac export --dataset %s\"", dataset, dataset)
	}
	baseline, err := Load(ProfilePath(store, dataset))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q; export it again with --dataset to record one", ErrNoProfile, dataset)
	}
	if err != nil {
		return nil, err
	}
	cols, err := MatchColumns(ctx, db, relation, baseline)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	if service == "" {
		service = ds.FeatureService
	}
	svc := defs.Service(service)
	return Check(ctx, db, dataset, baseline, Current{Relation: relation, Source: source, Columns: cols}, func(feature string) registry.Thresholds {
		view, name, _ := strings.Cut(feature, ":")
		if v := defs.View(view); v != nil {
			return defs.Thresholds(svc, v, name)
		}
		return registry.Thresholds{PSIWarn: registry.DefaultPSIWarn, PSIDrift: registry.DefaultPSIDrift, MinRows: registry.DefaultMinRows}
	})
}

// Monitor checks, every Interval, the lookups logged in the past Interval
// of each dataset's feature service against the dataset, and saves the
// reports where Collector finds them.
type Monitor struct {
	Store    *offline.Store
	DB       *duck.DB
	Defs     func() *registry.Definitions // the registry version being served
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Run checks until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.CheckAll(ctx)
		}
	}
}

// CheckAll checks every dataset that has a feature service and a profile
// once, logging what it finds.
func (m *Monitor) CheckAll(ctx context.Context) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	defs := m.Defs()
	end := now().UTC()
	for _, ds := range defs.Datasets {
		if ds.FeatureService == "" {
			continue
		}
		rel, files, err := LogWindow(m.Store, ds.FeatureService, end.Add(-m.Interval), end)
		if err != nil || files == 0 {
			continue
		}
		r, err := CheckDataset(ctx, m.DB, m.Store, defs, ds.Name, "", rel, "lookups of "+ds.FeatureService+" in the last "+m.Interval.String())
		if err == nil {
			err = r.Save(ReportPath(m.Store, ds.Name))
		}
		switch {
		case errors.Is(err, ErrNoProfile):
		case err != nil:
			m.Logger.Error("drift check", "dataset", ds.Name, "err", err)
		case r.Drifted > 0:
			m.Logger.Warn("drift found", "dataset", ds.Name, "service", ds.FeatureService, "drifted", r.Drifted)
		default:
			m.Logger.Info("no drift", "dataset", ds.Name, "service", ds.FeatureService)
		}
	}
}

// Collector exports the last saved drift report of every dataset as
// Prometheus gauges. It reads the reports when scraped.
type Collector struct {
	Store *offline.Store
}

var (
	psiDesc = prometheus.NewDesc("almanac_drift_psi",
		"PSI of each feature in the last drift check of a dataset.", []string{"dataset", "feature"}, nil)
	driftedDesc = prometheus.NewDesc("almanac_drift_drifted",
		"1 when the feature drifted in the last drift check of a dataset, else 0.", []string{"dataset", "feature"}, nil)
	checkedDesc = prometheus.NewDesc("almanac_drift_checked_timestamp_seconds",
		"When the last drift check of a dataset was saved.", []string{"dataset"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- psiDesc
	ch <- driftedDesc
	ch <- checkedDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	paths, _ := c.Store.DriftReportPaths() // the pattern is valid
	for _, p := range paths {
		r, saved, err := readReport(p)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(checkedDesc, prometheus.GaugeValue, float64(saved.Unix()), r.Dataset)
		for _, f := range r.Features {
			if f.PSI != nil {
				ch <- prometheus.MustNewConstMetric(psiDesc, prometheus.GaugeValue, *f.PSI, r.Dataset, f.Feature)
			}
			drifted := 0.0
			if f.Status == Drift {
				drifted = 1
			}
			ch <- prometheus.MustNewConstMetric(driftedDesc, prometheus.GaugeValue, drifted, r.Dataset, f.Feature)
		}
	}
}

// LastReport returns the drift report last saved for dataset (by "almanac
// drift --push-metrics" or the server's Monitor) and when it was saved. The
// error wraps os.ErrNotExist when none was saved.
func LastReport(store *offline.Store, dataset string) (*Report, time.Time, error) {
	return readReport(ReportPath(store, dataset))
}

// readReport reads a report written by Report.Save and its file's
// modification time.
func readReport(path string) (*Report, time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read drift report: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read drift report: %w", err)
	}
	r := &Report{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, time.Time{}, fmt.Errorf("read drift report %s: %w", path, err)
	}
	return r, info.ModTime(), nil
}
