package ui

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/almanac-fs/almanac/drift"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/registry"
)

// history is what the offline store holds of one view.
type history struct {
	Snapshot *offline.Snapshot
	// First and Last are the event dates of the oldest and newest
	// partitions.
	First, Last string
	// Stale is set when the newest event is older than the view's TTL, so
	// that nothing the view holds would be served.
	Stale bool
	// Err says why the history could not be read; empty when it was, or
	// when the view has none.
	Err string
}

// history reads the current snapshot of view; nil when nothing was
// materialized into it.
func (u *ui) history(v *registry.FeatureView) *history {
	snap, err := u.opts.Offline.Snapshot(v.Name)
	if errors.Is(err, offline.ErrNoData) {
		return nil
	}
	if err != nil {
		return &history{Err: err.Error()}
	}
	h := &history{Snapshot: snap}
	if n := len(snap.Files); n > 0 {
		h.First, h.Last = snap.Files[0].Date, snap.Files[n-1].Date // sorted by path, date=... first
	}
	newest := snap.Newest()
	h.Stale = v.TTL > 0 && !newest.IsZero() && u.now().Sub(newest) > v.TTL
	return h
}

type viewSummary struct {
	View    *registry.FeatureView
	History *history
}

type overviewPage struct {
	AppliedAt   time.Time
	Summary     string
	OnlineStore string
	Counts      []count
	Views       []viewSummary
}

// count is a number of objects of one kind and the page listing them.
type count struct {
	One, Many, Path string
	N               int
}

func (u *ui) overview(_ *http.Request, s served) (*page, error) {
	p := &overviewPage{OnlineStore: u.opts.OnlineStore}
	if reg, err := u.opts.Registry.Version(s.version); err == nil {
		p.AppliedAt, p.Summary = reg.GetCreatedAt().AsTime(), reg.GetSummary()
	}
	d := s.defs
	p.Counts = []count{
		{"feature view", "feature views", "/views", len(d.Views)},
		{"feature service", "feature services", "/services", len(d.Services)},
		{"entity", "entities", "/entities", len(d.Entities)},
		{"source", "sources", "/sources", len(d.Sources)},
		{"dataset", "datasets", "/datasets", len(d.Datasets)},
	}
	for _, v := range d.Views {
		p.Views = append(p.Views, viewSummary{View: v, History: u.history(v)})
	}
	return &page{template: "overview", title: "Overview", data: p}, nil
}

func (u *ui) views(_ *http.Request, s served) (*page, error) {
	return &page{template: "views", title: "Feature views", section: "views", data: s.defs.Views}, nil
}

type viewPage struct {
	View           *registry.FeatureView
	JoinKeys       []registry.Field
	TimestampField string
	Features       []viewFeature
	History        *history
	Services       []string
}

type viewFeature struct {
	registry.Field
	Expect string // the feature's data-quality rules, written out
}

func (u *ui) view(r *http.Request, s served) (*page, error) {
	name := r.PathValue("name")
	v := s.defs.View(name)
	if v == nil {
		return nil, notFound(s, "feature view", name, "views", names(s.defs.Views, func(v *registry.FeatureView) string { return v.Name }))
	}
	p := &viewPage{View: v, JoinKeys: s.defs.JoinKeys(v), TimestampField: s.defs.TimestampField(v), History: u.history(v)}
	for _, f := range v.Features {
		vf := viewFeature{Field: f}
		if v.Expect != nil {
			vf.Expect = expectation(v.Expect.Features[f.Name])
		}
		p.Features = append(p.Features, vf)
	}
	for _, svc := range s.defs.Services {
		if slices.ContainsFunc(svc.Features, func(ref registry.FeatureRef) bool { return ref.View == v.Name }) {
			p.Services = append(p.Services, svc.Name)
		}
	}
	return &page{template: "view", title: "Feature view " + v.Name, section: "views", data: p}, nil
}

// expectation writes out the data-quality rules of one feature.
func expectation(x *registry.Expectation) string {
	if x == nil {
		return ""
	}
	var rules []string
	num := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	if x.Min != nil {
		rules = append(rules, "min "+num(*x.Min))
	}
	if x.Max != nil {
		rules = append(rules, "max "+num(*x.Max))
	}
	if x.MaxNullFraction != nil {
		rules = append(rules, "nulls ≤ "+num(*x.MaxNullFraction))
	}
	if len(x.AllowedValues) > 0 {
		rules = append(rules, "one of "+strings.Join(x.AllowedValues, ", "))
	}
	return strings.Join(rules, "; ")
}

type serviceSummary struct {
	Service  *registry.FeatureService
	Views    []string
	Features int
	Datasets []string
}

func (u *ui) services(_ *http.Request, s served) (*page, error) {
	var out []serviceSummary
	for _, svc := range s.defs.Services {
		sum := serviceSummary{Service: svc, Features: len(serviceFeatures(s.defs, svc))}
		for _, ref := range svc.Features {
			if !slices.Contains(sum.Views, ref.View) {
				sum.Views = append(sum.Views, ref.View)
			}
		}
		for _, ds := range s.defs.Datasets {
			if ds.FeatureService == svc.Name {
				sum.Datasets = append(sum.Datasets, ds.Name)
			}
		}
		out = append(out, sum)
	}
	return &page{template: "services", title: "Feature services", section: "services", data: out}, nil
}

// serviceFeature is one feature a service selects.
type serviceFeature struct {
	View    *registry.FeatureView
	Feature registry.Field
}

// serviceFeatures expands the service's references into its features.
func serviceFeatures(defs *registry.Definitions, svc *registry.FeatureService) []serviceFeature {
	var out []serviceFeature
	for _, ref := range svc.Features {
		v := defs.View(ref.View)
		if v == nil {
			continue
		}
		for _, f := range v.Features {
			if len(ref.Features) == 0 || slices.Contains(ref.Features, f.Name) {
				out = append(out, serviceFeature{View: v, Feature: f})
			}
		}
	}
	return out
}

type servicePage struct {
	Service  *registry.FeatureService
	Features []serviceFeature
	// Offline names the views with online: false, which keep the service
	// from being looked up online.
	Offline  []string
	Datasets []*registry.Dataset
	Drift    []driftResult
	Log      featureLog
}

// driftResult is the last drift check stored for a dataset.
type driftResult struct {
	Dataset string
	Report  *drift.Report
	Saved   time.Time
	Err     string
}

// featureLog summarizes the lookups of a service the server logged.
type featureLog struct {
	Files       int
	First, Last string // dates
}

func (u *ui) service(r *http.Request, s served) (*page, error) {
	name := r.PathValue("name")
	svc := s.defs.Service(name)
	if svc == nil {
		return nil, notFound(s, "feature service", name, "services", names(s.defs.Services, func(s *registry.FeatureService) string { return s.Name }))
	}
	p := &servicePage{Service: svc, Features: serviceFeatures(s.defs, svc), Log: u.featureLog(svc.Name)}
	for _, f := range p.Features {
		if !f.View.Online && !slices.Contains(p.Offline, f.View.Name) {
			p.Offline = append(p.Offline, f.View.Name)
		}
	}
	for _, ds := range s.defs.Datasets {
		if ds.FeatureService != svc.Name {
			continue
		}
		p.Datasets = append(p.Datasets, ds)
		rep, saved, err := drift.LastReport(u.opts.Offline, ds.Name)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			p.Drift = append(p.Drift, driftResult{Dataset: ds.Name, Err: err.Error()})
		default:
			p.Drift = append(p.Drift, driftResult{Dataset: ds.Name, Report: rep, Saved: saved})
		}
	}
	return &page{template: "service", title: "Feature service " + svc.Name, section: "services", data: p}, nil
}

// featureLog counts the files of a service's logged lookups and the dates
// they span.
func (u *ui) featureLog(service string) featureLog {
	files, _ := u.opts.Offline.LogFiles(service, time.Time{}, time.Time{}) // an unreadable log shows as none
	l := featureLog{Files: len(files)}
	if l.Files > 0 {
		l.First, l.Last = files[0].Date, files[len(files)-1].Date
	}
	return l
}

type entityRow struct {
	Entity *registry.Entity
	Views  []string
}

func (u *ui) entities(_ *http.Request, s served) (*page, error) {
	var out []entityRow
	for _, e := range s.defs.Entities {
		row := entityRow{Entity: e}
		for _, v := range s.defs.Views {
			if slices.Contains(v.Entities, e.Name) {
				row.Views = append(row.Views, v.Name)
			}
		}
		out = append(out, row)
	}
	return &page{template: "entities", title: "Entities", section: "entities", data: out}, nil
}

type sourceRow struct {
	Source *registry.Source
	Views  []string
}

func (u *ui) sources(_ *http.Request, s served) (*page, error) {
	var out []sourceRow
	for _, src := range s.defs.Sources {
		row := sourceRow{Source: src}
		for _, v := range s.defs.Views {
			if v.Source == src.Name {
				row.Views = append(row.Views, v.Name)
			}
		}
		out = append(out, row)
	}
	return &page{template: "sources", title: "Sources", section: "sources", data: out}, nil
}

func (u *ui) datasets(_ *http.Request, s served) (*page, error) {
	return &page{template: "datasets", title: "Datasets", section: "datasets", data: s.defs.Datasets}, nil
}

type datasetPage struct {
	Dataset  *registry.Dataset
	Features []datasetFeature
	// Columns are the entity rows' columns, as the output holds them.
	Columns    []entityColumn
	ColumnsErr string
	// Profile is the statistics profile kept with the dataset; nil when
	// there is none, with ProfileErr saying why when it could not be read.
	Profile    *drift.Profile
	ProfileErr string
}

type datasetFeature struct {
	Ref, View, Name, Type string
	Profile               *drift.FeatureProfile
}

type entityColumn struct {
	Name string
	Role string // join key, event time or label
}

func (u *ui) dataset(r *http.Request, s served) (*page, error) {
	name := r.PathValue("name")
	ds := s.defs.Dataset(name)
	if ds == nil {
		return nil, notFound(s, "dataset", name, "datasets", names(s.defs.Datasets, func(d *registry.Dataset) string { return d.Name }))
	}
	p := &datasetPage{Dataset: ds}
	profile, err := drift.Load(drift.ProfilePath(u.opts.Offline, ds.Name))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		p.ProfileErr = err.Error()
	default:
		p.Profile = profile
	}
	keys := map[string]bool{}
	for _, ref := range ds.Features {
		view, feature, _ := strings.Cut(ref, ":")
		f := datasetFeature{Ref: ref, View: view, Name: feature}
		if v := s.defs.View(view); v != nil {
			if field, ok := v.Feature(feature); ok {
				f.Type = field.Type.String()
			}
			for _, k := range s.defs.JoinKeys(v) {
				keys[k.Name] = true
			}
		}
		if p.Profile != nil {
			f.Profile = p.Profile.Feature(ref)
		}
		p.Features = append(p.Features, f)
	}
	p.Columns, err = entityColumns(ds, keys)
	if err != nil {
		p.ColumnsErr = err.Error()
	}
	return &page{template: "dataset", title: "Dataset " + ds.Name, section: "datasets", data: p}, nil
}

// entityColumns reads the entity rows' columns from the schema of the
// dataset's output, where they come first, before the features, and tells
// each one's role: a join key of the features' views (keys), the event
// time, or a label (any other column, passed through). The event time is
// the one timestamp column that is not a key, or, among several, the one
// with the default name.
func entityColumns(ds *registry.Dataset, keys map[string]bool) ([]entityColumn, error) {
	f, err := os.Open(ds.OutputPath)
	if err != nil {
		return nil, fmt.Errorf("read the output's columns: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read the output's columns: %w", err)
	}
	pf, err := parquet.OpenFile(f, info.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("read the output's columns: %s: %w", ds.OutputPath, err)
	}
	fields := pf.Schema().Fields()
	n := len(fields) - len(ds.Features)
	if n < 0 {
		return nil, fmt.Errorf("read the output's columns: %s has fewer columns than the dataset has features", ds.OutputPath)
	}
	cols := make([]entityColumn, n)
	var times []int
	for i, field := range fields[:n] {
		cols[i] = entityColumn{Name: field.Name(), Role: "label"}
		switch {
		case keys[field.Name()]:
			cols[i].Role = "join key"
		case isTimestamp(field):
			times = append(times, i)
		}
	}
	if len(times) > 1 {
		times = slices.DeleteFunc(times, func(i int) bool { return cols[i].Name != offline.DefaultTimestampColumn })
	}
	if len(times) == 1 {
		cols[times[0]].Role = "event time"
	}
	return cols, nil
}

func isTimestamp(f parquet.Field) bool {
	lt := f.Type().LogicalType()
	if lt == nil {
		return false
	}
	_, ok := lt.Value.(*format.TimestampType)
	return ok
}

type registryPage struct {
	Versions []registryVersion
}

type registryVersion struct {
	Version     int64
	CreatedAt   time.Time
	ContentHash string
	Summary     string
	Served      bool
}

func (u *ui) registry(_ *http.Request, s served) (*page, error) {
	history, err := u.opts.Registry.History()
	if err != nil {
		return nil, err
	}
	p := &registryPage{}
	for i := len(history) - 1; i >= 0; i-- { // newest first
		v := history[i]
		p.Versions = append(p.Versions, registryVersion{
			Version: v.GetVersion(), CreatedAt: v.GetCreatedAt().AsTime(), ContentHash: v.GetContentHash(),
			Summary: v.GetSummary(), Served: v.GetVersion() == s.version,
		})
	}
	return &page{template: "registry", title: "Registry history", section: "registry", data: p}, nil
}

// names returns the name of each object, for suggestions.
func names[T any](objs []T, name func(T) string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = name(o)
	}
	return out
}
