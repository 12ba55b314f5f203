package registry

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
	Kind           string            `yaml:"kind" json:"kind"`
	Name           string            `yaml:"name" json:"name"`
	Entities       []string          `yaml:"entities" json:"entities"`
	Source         string            `yaml:"source" json:"source"`
	TTL            string            `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	StaleRetention string            `yaml:"stale_retention,omitempty" json:"stale_retention,omitempty"`
	TimestampField string            `yaml:"timestamp_field,omitempty" json:"timestamp_field,omitempty"`
	SQL            string            `yaml:"sql,omitempty" json:"sql,omitempty"`
	Features       []rawField        `yaml:"features" json:"features"`
	Online         *bool             `yaml:"online,omitempty" json:"online,omitempty"`
	Description    string            `yaml:"description,omitempty" json:"description,omitempty"`
	Tags           map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Monitoring     *Monitoring       `yaml:"monitoring,omitempty" json:"monitoring,omitempty"`
	Expect         *Expectations     `yaml:"expect,omitempty" json:"expect,omitempty"`
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
		TimestampField: v.TimestampField, SQL: v.SQL, Features: rawFields(v.Features),
		Online: &online, Description: v.Description, Tags: v.Tags, Monitoring: v.Monitoring, Expect: v.Expect}
	if v.TTL > 0 {
		r.TTL = FormatDuration(v.TTL)
	}
	if v.StaleRetention != v.TTL {
		r.StaleRetention = FormatDuration(v.StaleRetention)
	}
	return r
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
