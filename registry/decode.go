package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder turns one YAML document into a definition, adding a problem for
// every mistake that can be seen without looking at other definitions.
type decoder struct {
	file   string
	doc    *yaml.Node
	probs  *Problems
	object string
}

func (d *decoder) at(path ...string) Pos {
	return Pos{File: d.file, Line: nodeAt(d.doc, path...).Line}
}

func (d *decoder) problem(pos Pos, format string, args ...any) {
	d.probs.add(pos, d.object, format, args...)
}

// start decodes the document into raw and checks the object's name.
func (d *decoder) start(label string, raw any, name func() string) {
	d.object = label
	if n := child(d.doc, "name"); n != nil && n.Value != "" {
		d.object = fmt.Sprintf("%s %q", label, Clip(n.Value))
	}
	decodeStrict(d.file, d.doc, raw, d.object, d.probs)
	n := name()
	switch {
	case n == "":
		d.problem(d.at(), "name is required; add \"name:\" with a name such as %q", "my_"+strings.ReplaceAll(label, " ", "_"))
	case !ValidName(n):
		d.problem(d.at("name"), "%s", NameProblem(n))
	}
}

// fields parses a list of named, typed fields at path.
func (d *decoder) fields(path string, raw []rawField, what string, check func(Type) string) []Field {
	out := make([]Field, 0, len(raw))
	seen := make(map[string]bool)
	for i, r := range raw {
		idx := strconv.Itoa(i)
		switch {
		case r.Name == "":
			d.problem(d.at(path, idx), "%s %d has no name; add \"name:\"", what, i+1)
		case !ValidName(r.Name):
			d.problem(d.at(path, idx, "name"), "%s %s", what, NameProblem(r.Name))
		case seen[r.Name]:
			d.problem(d.at(path, idx, "name"), "%s %q is listed twice; remove or rename one", what, r.Name)
		}
		seen[r.Name] = true
		t, ok := d.typ(d.at(path, idx, "type"), fmt.Sprintf("%s %q", what, Clip(r.Name)), r.Type)
		if ok && check != nil {
			if msg := check(t); msg != "" {
				d.problem(d.at(path, idx, "type"), "%s %q: %s", what, Clip(r.Name), msg)
			}
		}
		out = append(out, Field{Name: r.Name, Type: t, Description: strings.TrimSpace(r.Description), Tags: r.Tags})
	}
	return out
}

func (d *decoder) typ(pos Pos, what, name string) (Type, bool) {
	if name == "" {
		d.problem(pos, "%s has no type; add \"type:\" with one of %s", what, strings.Join(TypeNames(), ", "))
		return Type{}, false
	}
	t, err := ParseType(name)
	if err != nil {
		d.problem(pos, "%s: unknown type %q%s", what, Clip(name), orList(name, TypeNames()))
		return Type{}, false
	}
	return t, true
}

func (d *decoder) entity(r *rawEntity) *Entity {
	d.start("entity", r, func() string { return r.Name })
	if len(r.JoinKeys) == 0 {
		d.problem(d.at("join_keys"), "no join keys; add \"join_keys: [{name: %s_id, type: int64}]\"", r.Name)
	}
	keys := d.fields("join_keys", r.JoinKeys, "join key", func(t Type) string {
		if validJoinKeyType(t) {
			return ""
		}
		return fmt.Sprintf("type %s cannot be a join key; use int32, int64, string or bytes", t)
	})
	return &Entity{Name: r.Name, JoinKeys: keys, Description: strings.TrimSpace(r.Description), Tags: r.Tags, Pos: d.at(), node: d.doc}
}

func (d *decoder) source(r *rawSource) *Source {
	d.start("source", r, func() string { return r.Name })
	format := Format(r.Format)
	props, known := format.props()
	switch {
	case r.Format == "":
		d.problem(d.at(), "format is required; add \"format:\" with one of %s", strings.Join(formatNames(), ", "))
	case !known:
		d.problem(d.at("format"), "unknown format %q%s", Clip(r.Format), orList(r.Format, formatNames()))
	case props.files && r.Path == "":
		d.problem(d.at(), "a %s source needs a path; add \"path:\" with a file or glob such as data/%s/*.%s", format, r.Name, format)
	case !props.files && r.Path != "":
		d.problem(d.at("path"), "a %s source has no path; remove \"path:\"", format)
	}
	if props.schema && len(r.Schema) == 0 {
		d.problem(d.at(), "a %s source needs a schema; add \"schema:\" listing its columns with name and type", format)
	}
	if props.noCreated != "" && r.CreatedTimestampField != "" {
		d.problem(d.at("created_timestamp_field"), "a %s source %s; remove \"created_timestamp_field:\"", format, props.noCreated)
	}
	if r.TimestampField == "" {
		d.problem(d.at(), "timestamp_field is required; add \"timestamp_field:\" naming the event-time column")
	}
	schema := d.fields("schema", r.Schema, "column", nil)
	if len(schema) > 0 {
		for _, col := range []string{r.TimestampField, r.CreatedTimestampField} {
			if col != "" && !hasField(schema, col) {
				d.problem(d.at("schema"), "schema has no column %q; add it with type timestamp", Clip(col))
			}
		}
	}
	return &Source{Name: r.Name, Format: format, Path: r.Path, TimestampField: r.TimestampField,
		CreatedTimestampField: r.CreatedTimestampField, Schema: schema, Description: strings.TrimSpace(r.Description),
		Tags: r.Tags, Pos: d.at(), node: d.doc}
}

// maxTTL is the longest TTL, and the longest stale retention, of a feature
// view, 100 years: the stores add both to event times, and subtract TTLs
// from entity times, which must stay within what they and DuckDB's
// intervals hold.
const maxTTL = 36500 * 24 * time.Hour

// duration parses the duration s of the view's field, at most maxTTL long;
// "" is 0. A bad one adds a problem that names what it is and ends with
// remedy, and returns false.
func (d *decoder) duration(field, s, what, remedy string) (time.Duration, bool) {
	return d.durationAt(d.at(field), field, s, what, remedy)
}

// durationAt is duration for a value at pos, called label in the problem.
func (d *decoder) durationAt(pos Pos, label, s, what, remedy string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	dur, err := ParseDuration(s)
	switch {
	case err != nil && !errors.Is(err, errTooLong):
		d.problem(pos, "%s: %v, or %s", label, err, remedy)
	case err != nil || dur > maxTTL:
		d.problem(pos, "%s %s is longer than %s (100 years), the longest %s; shorten it, or %s", label, Clip(s), FormatDuration(maxTTL), what, remedy)
	default:
		return dur, true
	}
	return 0, false
}

func (d *decoder) view(r *rawView) *FeatureView {
	d.start("feature view", r, func() string { return r.Name })
	if len(r.Entities) == 0 {
		d.problem(d.at("entities"), "no entities; add \"entities: [NAME]\" naming the entities the features describe")
	}
	if r.Source == "" {
		d.problem(d.at(), "source is required; add \"source:\" naming the source the features are computed from")
	}
	ttl, ttlOK := d.duration("ttl", r.TTL, "TTL", "remove it so values never expire")
	retention := ttl
	if r.StaleRetention != "" {
		var ok bool
		retention, ok = d.duration("stale_retention", r.StaleRetention, "stale retention", "remove it to keep stale values as long as the ttl")
		if ok && ttlOK && ttl == 0 {
			d.problem(d.at("stale_retention"), "stale_retention means nothing without a ttl, since values never go stale; add \"ttl:\" or remove \"stale_retention:\"")
		}
	}
	aggs, interval, generated, bad := d.aggregations(r)
	var features []Field
	switch {
	case len(aggs) > 0:
		features = generated // names only: the types wait for the aggregated columns'
	case len(r.Features) == 0:
		d.problem(d.at("features"), "no features; add \"features:\" listing each feature with name and type, or \"aggregations:\"")
	default:
		features = d.fields("features", r.Features, "feature", nil)
	}
	online := true
	if r.Online != nil {
		online = *r.Online
	}
	d.checkMonitoring(r.Monitoring, []string{"monitoring"}, fieldNames(features))
	d.checkExpectations(r.Expect, features)
	v := &FeatureView{Name: r.Name, Entities: r.Entities, Source: r.Source, TTL: ttl, StaleRetention: retention,
		TimestampField: r.TimestampField, SQL: r.SQL, Online: online,
		Description: strings.TrimSpace(r.Description), Tags: r.Tags, Monitoring: r.Monitoring, Expect: r.Expect,
		Aggregations: aggs, AggregationInterval: interval, Pos: d.at(), node: d.doc, aggProblems: bad}
	if len(aggs) == 0 {
		v.Features = features
	}
	return v
}

func (d *decoder) service(r *rawService) *FeatureService {
	d.start("feature service", r, func() string { return r.Name })
	if len(r.Features) == 0 {
		d.problem(d.at("features"), "no features; add \"features:\" listing view:feature references or whole views")
	}
	refs := make([]FeatureRef, 0, len(r.Features))
	for i, s := range r.Features {
		ref, err := ParseFeatureRef(s)
		if err != nil {
			d.problem(d.at("features", strconv.Itoa(i)), "%v", err)
			continue
		}
		refs = append(refs, ref)
	}
	d.checkMonitoring(r.Monitoring, []string{"monitoring"}, nil) // feature names are checked by validate
	s := &FeatureService{Name: r.Name, Features: refs, Description: strings.TrimSpace(r.Description), Tags: r.Tags,
		Monitoring: r.Monitoring, Pos: d.at(), node: d.doc}
	if r.Logging != nil {
		if rate := r.Logging.SampleRate; rate != nil && (*rate < 0 || *rate > 1) {
			d.problem(d.at("logging", "sample_rate"), "sample_rate must be between 0 and 1 (0.1 logs one lookup in ten)")
		}
		s.LogSampleRate = r.Logging.SampleRate
	}
	return s
}

func hasField(fs []Field, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}
