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
// columns) is to produce records of the same form, so that the writer reads
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
	parsed := make([]registry.FeatureRef, 0, len(refs))
	for _, r := range refs {
		ref, err := registry.ParseFeatureRef(r)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, ref)
	}
	p, err := c.newPlan(parsed)
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
	if len(refs) == 0 {
		return nil, fmt.Errorf("no features requested")
	}
	p := &plan{names: &almanacv1.FeatureList{}, fullNames: &almanacv1.FeatureList{}}
	viewPos := map[string]int{}
	keyPos := map[string]int{}
	seen := map[string]bool{}
	for _, ref := range refs {
		vi, ok := c.views[ref.View]
		if !ok {
			return nil, fmt.Errorf("feature view %q not found%s", registry.Clip(ref.View), registry.DidYouMean(ref.View, c.viewNames()))
		}
		if !vi.def.Online {
			return nil, fmt.Errorf("%w: feature view %q has online: false", errOffline, ref.View)
		}
		j, ok := viewPos[ref.View]
		if !ok {
			j = len(p.views)
			viewPos[ref.View] = j
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
		names := ref.Features
		if len(names) == 0 {
			for _, f := range vi.view.Features {
				names = append(names, f.Name)
			}
		}
		for _, name := range names {
			index := -1
			for i, f := range vi.view.Features {
				if f.Name == name {
					index = i
				}
			}
			if index < 0 {
				all := make([]string, len(vi.view.Features))
				for i, f := range vi.view.Features {
					all[i] = f.Name
				}
				return nil, fmt.Errorf("feature view %q has no feature %q%s", ref.View, registry.Clip(name), registry.DidYouMean(name, all))
			}
			full := ref.View + ":" + name
			if seen[full] {
				continue
			}
			seen[full] = true
			p.columns = append(p.columns, column{record: j, field: index})
		}
	}
	for _, k := range p.keys {
		p.names.Val = append(p.names.Val, k.Name)
		p.fullNames.Val = append(p.fullNames.Val, k.Name)
	}
	for _, c := range p.columns {
		vi := p.views[c.record]
		name := vi.view.Features[c.field].Name
		p.fullNames.Val = append(p.fullNames.Val, vi.view.Name+"__"+name)
		p.names.Val = append(p.names.Val, name)
	}
	for _, k := range p.keys {
		p.logColumns = append(p.logColumns, offline.LogColumn{Name: k.Name, Type: k.Type, Key: true})
	}
	for i, c := range p.columns {
		vi := p.views[c.record]
		p.logColumns = append(p.logColumns, offline.LogColumn{Name: p.fullNames.Val[len(p.keys)+i], Type: vi.view.Features[c.field].Type})
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

func (c *catalog) viewNames() []string {
	out := make([]string, 0, len(c.views))
	for n := range c.views {
		out = append(out, n)
	}
	return out
}

func (c *catalog) serviceNames() []string {
	out := make([]string, 0, len(c.services))
	for n := range c.services {
		out = append(out, n)
	}
	return out
}
