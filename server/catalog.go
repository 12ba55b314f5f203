package server

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
	"github.com/almanac-fs/almanac/window"
)

// catalog is one registry version made ready for lookups: every feature
// service resolved to a plan once, so that requests do no resolving.
// A catalog is immutable and shared by concurrent requests.
type catalog struct {
	version  int64
	defs     *registry.Definitions
	views    map[string]*viewInfo
	services map[string]*plan
	// unservable holds, for feature services that select a view with
	// online: false, why they cannot be looked up; they still serve
	// training sets.
	unservable map[string]error
	joinKeys   map[string]bool // every join key of every entity

	mu    sync.Mutex
	adhoc map[string]*plan // plans of feature lists, bounded by maxAdhocPlans
}

const maxAdhocPlans = 1024

// viewInfo is a feature view as lookups need it.
type viewInfo struct {
	view  online.View
	codec *online.Codec
	keys  []registry.Field
	def   *registry.FeatureView
	// For a view with window aggregations, whose records are an entity's
	// tiles: tiles decodes them and aggs evaluates them for def.Windows,
	// the view's features in order. nil for other views.
	tiles *window.Codec
	aggs  []window.Agg
}

// plan is a resolved set of features: the views to read, the entity keys
// they need, and the feature columns of the response, after the join keys.
type plan struct {
	views   []*viewInfo
	keys    []registry.Field // the join keys of all views, in order of first use
	keyIdx  [][]int          // per view: the positions in keys of its join keys
	columns []column
	// names and fullNames are the response metadata, join keys first. They
	// are shared by every response and never modified. names is nil when
	// two short names collide; collision is then the name.
	names, fullNames *almanacv1.FeatureList
	collision        string
	// service and sampleRate say whether and how often lookups of the plan
	// are logged: only feature services' are.
	service    string
	sampleRate float64
	// logColumns are the names and types of the logged columns, in
	// response order; each logged lookup copies them and adds its values.
	logColumns []offline.LogColumn
}

// column is a feature column of a plan and where its values come from: for
// each entity row, the field numbered field of the row's record numbered
// record in the reply. A reply holds, per entity row, one record per plan
// view: the view's stored record with its values transcoded to their wire
// form, a status and an event time (reply); the writer copies a column's
// values from those bytes as they are. A source that computes values at
// lookup time (tiles merged into aggregates, an expression over other
// columns) produces records of the same form, so that the writer reads
// every column alike.
type column struct {
	record, field int
}

func newCatalog(version int64, defs *registry.Definitions) (*catalog, error) {
	c := &catalog{
		version:    version,
		defs:       defs,
		views:      make(map[string]*viewInfo, len(defs.Views)),
		services:   make(map[string]*plan, len(defs.Services)),
		unservable: make(map[string]error),
		joinKeys:   make(map[string]bool),
		adhoc:      make(map[string]*plan),
	}
	for _, e := range defs.Entities {
		for _, k := range e.JoinKeys {
			c.joinKeys[k.Name] = true
		}
	}
	for _, v := range defs.Views {
		vi := &viewInfo{view: online.ViewOf(v), keys: defs.JoinKeys(v), def: v}
		vi.codec = online.CodecOf(&vi.view)
		if v.Aggregated() {
			vi.aggs = window.Aggs(v.Aggregations, v.Windows)
			vi.tiles = window.NewCodec(vi.aggs, v.Windows)
		}
		c.views[v.Name] = vi
	}
	for _, s := range defs.Services {
		p, err := c.newPlan(s.Features)
		if errors.Is(err, errOffline) {
			c.unservable[s.Name] = fmt.Errorf("feature service %q cannot be served online: %w", s.Name, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("feature service %q: %w", s.Name, err)
		}
		p.service, p.sampleRate = s.Name, s.SampleRate()
		c.services[s.Name] = p
	}
	return c, nil
}

// planFor returns the plan of a feature list, resolving it on first use.
func (c *catalog) planFor(refs []string) (*plan, error) {
	key := strings.Join(refs, "\x00")
	c.mu.Lock()
	p, ok := c.adhoc[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	parsed, err := registry.ParseFeatureRefs(refs)
	if err != nil {
		return nil, err
	}
	p, err = c.newPlan(parsed)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.adhoc) < maxAdhocPlans {
		c.adhoc[key] = p
	}
	c.mu.Unlock()
	return p, nil
}

func (c *catalog) newPlan(refs []registry.FeatureRef) (*plan, error) {
	sel, err := c.defs.Resolve(refs)
	if err != nil {
		return nil, err
	}
	p := &plan{names: &almanacv1.FeatureList{}, fullNames: &almanacv1.FeatureList{}}
	keyPos := map[string]int{}
	for _, v := range sel.Views {
		vi := c.views[v.Name]
		if !v.Online {
			return nil, fmt.Errorf("%w: feature view %q has online: false", errOffline, v.Name)
		}
		p.views = append(p.views, vi)
		idx := make([]int, len(vi.keys))
		for i, k := range vi.keys {
			pos, ok := keyPos[k.Name]
			if !ok {
				pos = len(p.keys)
				keyPos[k.Name] = pos
				p.keys = append(p.keys, k)
			}
			idx[i] = pos
		}
		p.keyIdx = append(p.keyIdx, idx)
	}
	for _, k := range p.keys {
		p.names.Val = append(p.names.Val, k.Name)
		p.fullNames.Val = append(p.fullNames.Val, k.Name)
		p.logColumns = append(p.logColumns, offline.LogColumn{Name: k.Name, Type: k.Type, Key: true})
	}
	for _, f := range sel.Features {
		p.columns = append(p.columns, column{record: f.View, field: f.Index})
		p.names.Val = append(p.names.Val, f.Field.Name)
		p.fullNames.Val = append(p.fullNames.Val, f.FullName)
		p.logColumns = append(p.logColumns, offline.LogColumn{Name: f.FullName, Type: f.Field.Type})
	}
	short := make(map[string]bool, len(p.names.Val))
	for _, n := range p.names.Val {
		if short[n] {
			p.collision = n
			p.names = nil // short names collide: only full names can be used
			break
		}
		short[n] = true
	}
	return p, nil
}

// errOffline marks plans that select a view that is not served online.
var errOffline = errors.New("not served online")

// namesFor returns the response metadata, or an error when the short names
// of the features collide with each other or with a join key.
func (p *plan) namesFor(full bool) (*almanacv1.FeatureList, error) {
	if full {
		return p.fullNames, nil
	}
	if p.names == nil {
		return nil, fmt.Errorf("two requested columns are named %q; set full_feature_names to name features view__feature", p.collision)
	}
	return p.names, nil
}
