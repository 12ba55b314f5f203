package registry

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// The raw* types are definitions exactly as written in YAML, before
// validation. They are also what describe prints.

type rawField struct {
	Name        string            `yaml:"name" json:"name"`
	Type        string            `yaml:"type" json:"type"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

type rawEntity struct {
	Kind        string            `yaml:"kind" json:"kind"`
	Name        string            `yaml:"name" json:"name"`
	JoinKeys    []rawField        `yaml:"join_keys" json:"join_keys"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

type rawSource struct {
	Kind                  string            `yaml:"kind" json:"kind"`
	Name                  string            `yaml:"name" json:"name"`
	Format                string            `yaml:"format" json:"format"`
	Path                  string            `yaml:"path,omitempty" json:"path,omitempty"`
	TimestampField        string            `yaml:"timestamp_field" json:"timestamp_field"`
	CreatedTimestampField string            `yaml:"created_timestamp_field,omitempty" json:"created_timestamp_field,omitempty"`
	Schema                []rawField        `yaml:"schema,omitempty" json:"schema,omitempty"`
	Description           string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags                  map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

type rawView struct {
	Kind           string           `yaml:"kind" json:"kind"`
	Name           string           `yaml:"name" json:"name"`
	Entities       []string         `yaml:"entities" json:"entities"`
	Source         string           `yaml:"source" json:"source"`
	TTL            string           `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	StaleRetention string           `yaml:"stale_retention,omitempty" json:"stale_retention,omitempty"`
	TimestampField string           `yaml:"timestamp_field,omitempty" json:"timestamp_field,omitempty"`
	SQL            string           `yaml:"sql,omitempty" json:"sql,omitempty"`
	Features       []rawField       `yaml:"features,omitempty" json:"features,omitempty"`
	Aggregations   []rawAggregation `yaml:"aggregations,omitempty" json:"aggregations,omitempty"`
	// AggregationInterval is the hop of every window of the view.
	AggregationInterval string            `yaml:"aggregation_interval,omitempty" json:"aggregation_interval,omitempty"`
	Online              *bool             `yaml:"online,omitempty" json:"online,omitempty"`
	Description         string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags                map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Monitoring          *Monitoring       `yaml:"monitoring,omitempty" json:"monitoring,omitempty"`
	Expect              *Expectations     `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// rawAggregation is one entry of a view's aggregations (DESIGN §8).
type rawAggregation struct {
	Function string   `yaml:"function" json:"function"`
	Column   string   `yaml:"column,omitempty" json:"column,omitempty"`
	Windows  []string `yaml:"windows,omitempty,flow" json:"windows,omitempty"`
	Name     string   `yaml:"name,omitempty" json:"name,omitempty"`
	N        int      `yaml:"n,omitempty" json:"n,omitempty"`
}

type rawService struct {
	Kind        string            `yaml:"kind" json:"kind"`
	Name        string            `yaml:"name" json:"name"`
	Features    []string          `yaml:"features" json:"features"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Monitoring  *Monitoring       `yaml:"monitoring,omitempty" json:"monitoring,omitempty"`
	Logging     *Logging          `yaml:"logging,omitempty" json:"logging,omitempty"`
}

// Logging configures the served-feature log of a feature service.
type Logging struct {
	SampleRate *float64 `yaml:"sample_rate,omitempty" json:"sample_rate,omitempty"`
}

func rawFields(fs []Field) []rawField {
	out := make([]rawField, len(fs))
	for i, f := range fs {
		out[i] = rawField{Name: f.Name, Type: f.Type.String(), Description: f.Description, Tags: f.Tags}
	}
	return out
}

func (e *Entity) raw() any {
	return rawEntity{Kind: KindEntity, Name: e.Name, JoinKeys: rawFields(e.JoinKeys), Description: e.Description, Tags: e.Tags}
}

func (s *Source) raw() any {
	return rawSource{Kind: KindSource, Name: s.Name, Format: string(s.Format), Path: s.Path,
		TimestampField: s.TimestampField, CreatedTimestampField: s.CreatedTimestampField,
		Schema: rawFields(s.Schema), Description: s.Description, Tags: s.Tags}
}

func (v *FeatureView) raw() any {
	online := v.Online
	r := rawView{Kind: KindFeatureView, Name: v.Name, Entities: v.Entities, Source: v.Source,
		TimestampField: v.TimestampField, SQL: v.SQL,
		Online: &online, Description: v.Description, Tags: v.Tags, Monitoring: v.Monitoring, Expect: v.Expect}
	if v.TTL > 0 {
		r.TTL = FormatDuration(v.TTL)
	}
	if v.StaleRetention != v.TTL {
		r.StaleRetention = FormatDuration(v.StaleRetention)
	}
	if !v.Aggregated() {
		r.Features = rawFields(v.Features)
		return r
	}
	for _, a := range v.Aggregations {
		r.Aggregations = append(r.Aggregations, a.raw())
	}
	if v.AggregationInterval > 0 {
		r.AggregationInterval = FormatDuration(v.AggregationInterval)
	}
	d := describedView{rawView: r}
	for _, w := range v.Windows {
		d.Generated = append(d.Generated, generatedFeature{Name: w.Name, Type: w.Type.String(), Aggregation: v.DescribeWindow(w)})
	}
	return d
}

// raw returns a as written in definitions.
func (a Aggregation) raw() rawAggregation {
	r := rawAggregation{Function: a.Function.String(), Column: a.Column, Name: a.Name, N: a.N}
	for _, w := range a.Windows {
		r.Windows = append(r.Windows, FormatDuration(w))
	}
	return r
}

// describedView is an aggregated view as describe prints it: as written,
// with the features its aggregations compute beside it, as a comment in
// YAML (so that the output still reads as a definition) and as the field
// generated_features in JSON.
type describedView struct {
	rawView
	Generated []generatedFeature `yaml:"-" json:"generated_features"`
}

type generatedFeature struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Aggregation string `json:"aggregation"` // "sum(fare) over 7d, hop 1h"
}

// MarshalYAML writes the view as written, followed by a comment listing
// the generated features, one aligned line each.
func (d describedView) MarshalYAML() (any, error) {
	var n yaml.Node
	if err := n.Encode(d.rawView); err != nil {
		return nil, err
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "generated features:")
	for _, g := range d.Generated {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", g.Name, g.Type, g.Aggregation)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	n.FootComment = strings.TrimSuffix(b.String(), "\n")
	return &n, nil
}

func (s *FeatureService) raw() any {
	refs := make([]string, 0, len(s.Features))
	for _, r := range s.Features {
		if len(r.Features) == 0 {
			refs = append(refs, r.View)
		}
		for _, f := range r.Features {
			refs = append(refs, r.View+":"+f)
		}
	}
	r := rawService{Kind: KindFeatureService, Name: s.Name, Features: refs, Description: s.Description, Tags: s.Tags, Monitoring: s.Monitoring}
	if s.LogSampleRate != nil {
		r.Logging = &Logging{SampleRate: s.LogSampleRate}
	}
	return r
}
