package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Pos is where a definition was written.
type Pos struct {
	File string // path relative to the repository
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Field is a named, typed column: a join key, a feature or a source column.
type Field struct {
	Name        string
	Type        Type
	Description string
	Tags        map[string]string
}

// Entity is a thing features describe, identified by its join keys.
type Entity struct {
	Name        string
	JoinKeys    []Field
	Description string
	Tags        map[string]string
	Pos         Pos

	node *yaml.Node // the document, for the lines of problems found later
}

// Source is raw event data that feature views read.
type Source struct {
	Name                  string
	Format                Format
	Path                  string // glob relative to the repository; empty for push sources
	TimestampField        string
	CreatedTimestampField string
	Schema                []Field // declared columns; required for push sources
	Description           string
	Tags                  map[string]string
	Pos                   Pos

	node *yaml.Node
}

// FeatureView is a group of features computed from one source and keyed by
// one or more entities.
type FeatureView struct {
	Name           string
	Entities       []string
	Source         string
	TTL            time.Duration // 0: values never expire
	StaleRetention time.Duration // how long values older than TTL stay online, read OUTSIDE_MAX_AGE; default: TTL
	TimestampField string        // empty: the source's
	SQL            string
	Features       []Field
	Online         bool
	Description    string
	Tags           map[string]string
	Monitoring     *Monitoring   // drift thresholds; nil: defaults
	Expect         *Expectations // data-quality rules; nil: none
	Pos            Pos

	// Aggregations makes the view a window-aggregated one (DESIGN §8): its
	// Features are then the features the aggregations compute, and Windows
	// says, for each of them in the same order, how.
	Aggregations        []Aggregation
	AggregationInterval time.Duration // the hop of every window; 0: DefaultHop
	Windows             []WindowFeature

	node        *yaml.Node
	aggProblems bool // the decoder found mistakes in Aggregations: they are not typed
}

// Aggregated reports whether v computes its features with window
// aggregations.
func (v *FeatureView) Aggregated() bool { return len(v.Aggregations) > 0 }

// Feature returns the feature called name.
func (v *FeatureView) Feature(name string) (Field, bool) {
	i := slices.IndexFunc(v.Features, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return Field{}, false
	}
	return v.Features[i], true
}

// FeatureRef names features of one view; no Features means all of them.
type FeatureRef struct {
	View     string
	Features []string
}

// String renders the reference as written: "view:feature,..." or "view".
func (r FeatureRef) String() string {
	if len(r.Features) == 0 {
		return r.View
	}
	parts := make([]string, len(r.Features))
	for i, f := range r.Features {
		parts[i] = r.View + ":" + f
	}
	return strings.Join(parts, ",")
}

// FeatureService is a named set of features that a model consumes.
type FeatureService struct {
	Name          string
	Features      []FeatureRef
	Description   string
	Tags          map[string]string
	Monitoring    *Monitoring // drift thresholds, overriding the views'; nil: none
	LogSampleRate *float64    // share of lookups logged; nil: DefaultLogSampleRate
	Pos           Pos

	node *yaml.Node // the document, for the lines of problems found later
}

// Dataset records a training set exported from the offline store.
type Dataset struct {
	Name           string    `yaml:"name" json:"name"`
	FeatureService string    `yaml:"feature_service,omitempty" json:"feature_service,omitempty"`
	Features       []string  `yaml:"features" json:"features"` // "view:feature"
	EntityPath     string    `yaml:"entity_path" json:"entity_path"`
	OutputPath     string    `yaml:"output_path" json:"output_path"`
	RowCount       int64     `yaml:"row_count" json:"row_count"`
	Start          time.Time `yaml:"start" json:"start"` // event-time range of the entity rows
	End            time.Time `yaml:"end" json:"end"`
	CreatedAt      time.Time `yaml:"created_at" json:"created_at"`
}

// Definitions are the objects of a feature repository, each kind in the
// order it was read.
type Definitions struct {
	Entities []*Entity
	Sources  []*Source
	Views    []*FeatureView
	Services []*FeatureService
	Datasets []*Dataset
}

// Entity returns the entity called name, or nil.
func (d *Definitions) Entity(name string) *Entity { return find(d.Entities, name) }

// Source returns the source called name, or nil.
func (d *Definitions) Source(name string) *Source { return find(d.Sources, name) }

// View returns the feature view called name, or nil.
func (d *Definitions) View(name string) *FeatureView { return find(d.Views, name) }

// Service returns the feature service called name, or nil.
func (d *Definitions) Service(name string) *FeatureService { return find(d.Services, name) }

// Dataset returns the dataset called name, or nil.
func (d *Definitions) Dataset(name string) *Dataset { return find(d.Datasets, name) }

func find[T any, P interface {
	*T
	name() string
}](objs []P, name string) P {
	for _, o := range objs {
		if o.name() == name {
			return o
		}
	}
	return nil
}

func (e *Entity) name() string         { return e.Name }
func (s *Source) name() string         { return s.Name }
func (v *FeatureView) name() string    { return v.Name }
func (s *FeatureService) name() string { return s.Name }
func (d *Dataset) name() string        { return d.Name }

// ParseFeatureRef parses "view:feature" or "view".
func ParseFeatureRef(s string) (FeatureRef, error) {
	view, feature, hasFeature := strings.Cut(s, ":")
	if view == "" || (hasFeature && feature == "") || strings.Count(s, ":") > 1 {
		return FeatureRef{}, fmt.Errorf("bad feature reference %q: write view:feature or view", Clip(s))
	}
	if !hasFeature {
		return FeatureRef{View: view}, nil
	}
	return FeatureRef{View: view, Features: []string{feature}}, nil
}

// Kinds accepted by Describe, with their plural forms for listings.
var kindAliases = map[string]string{
	"entity": KindEntity, "entities": KindEntity,
	"source": KindSource, "sources": KindSource,
	"view": KindFeatureView, "views": KindFeatureView, "feature_view": KindFeatureView, "featureview": KindFeatureView,
	"service": KindFeatureService, "services": KindFeatureService, "feature_service": KindFeatureService, "featureservice": KindFeatureService,
	"dataset": KindDataset, "datasets": KindDataset,
}

// ParseKind maps what a person types ("views", "feature_view", "FeatureView")
// to a kind.
func ParseKind(s string) (string, error) {
	if k, ok := kindAliases[strings.ToLower(s)]; ok {
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q: use entity, source, view, service or dataset", Clip(s))
}

// Describe returns the object of kind called name in the form definitions
// are written in, ready to be marshaled as YAML or JSON. An object d does
// not hold is a *NotFoundError.
func (d *Definitions) Describe(kind, name string) (any, error) {
	switch kind {
	case KindEntity:
		return raw(d.LookupEntity(name))
	case KindSource:
		return raw(d.LookupSource(name))
	case KindFeatureView:
		return raw(d.LookupView(name))
	case KindFeatureService:
		return raw(d.LookupService(name))
	case KindDataset:
		ds, err := d.LookupDataset(name)
		if err != nil {
			return nil, err
		}
		return ds, nil
	}
	return nil, fmt.Errorf("unknown kind %q", Clip(kind))
}

// raw returns what a lookup found in the form it was written in.
func raw[T interface{ raw() any }](obj T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return obj.raw(), nil
}

// ErrNotFound is returned for an object that the registry does not hold.
var ErrNotFound = errors.New("registry: not found")
