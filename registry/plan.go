package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Op is what a plan does to an object.
type Op string

// Plan operations.
const (
	OpAdd    Op = "add"
	OpChange Op = "change"
	OpRemove Op = "remove"
)

// FieldChange is one field of an object that a plan changes. Old is empty
// when the field is new, New when it goes away.
type FieldChange struct {
	Field       string `json:"field"`
	Old         string `json:"old,omitempty"`
	New         string `json:"new,omitempty"`
	Destructive bool   `json:"destructive,omitempty"`
}

// Change is what a plan does to one object.
type Change struct {
	Kind        string        `json:"kind"` // "entity", "source", "feature view", "feature service", "project"
	Name        string        `json:"name"`
	Op          Op            `json:"op"`
	Fields      []FieldChange `json:"fields,omitempty"`
	Destructive bool          `json:"destructive,omitempty"`
	// Note says what else the change does, for people.
	Note string `json:"note,omitempty"`
}

// noteOnlineRecords is the note of a change to the features of an online
// view: its stored online values no longer match the view and read as not
// found (they are never read as values of other features).
const noteOnlineRecords = "the view's online values read as not found until it is materialized again (its features changed: names, types or order)"

// Plan is the difference between a repository's definitions and the stored
// registry.
type Plan struct {
	Project     string   `json:"project"`
	FromVersion int64    `json:"from_version"` // 0 when nothing was applied yet
	Changes     []Change `json:"changes"`
}

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Destructive returns the changes that can break readers or lose data.
func (p *Plan) Destructive() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Destructive {
			out = append(out, c)
		}
	}
	return out
}

// Counts returns how many objects the plan adds, changes and removes.
func (p *Plan) Counts() (add, change, remove int) {
	for _, c := range p.Changes {
		switch c.Op {
		case OpAdd:
			add++
		case OpChange:
			change++
		case OpRemove:
			remove++
		}
	}
	return add, change, remove
}

// Summary is a one-line description of the plan.
func (p *Plan) Summary() string {
	if p.Empty() {
		return "no changes"
	}
	a, c, r := p.Counts()
	return fmt.Sprintf("%d to add, %d to change, %d to remove", a, c, r)
}

// WriteText prints the plan for people, field by field.
func (p *Plan) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	if p.Empty() {
		ew.printf("No changes: the registry (version %d) matches the definitions.\n", p.FromVersion)
		return ew.err
	}
	ew.printf("Plan for project %q (registry version %d -> %d):\n\n", p.Project, p.FromVersion, p.FromVersion+1)
	for _, c := range p.Changes {
		sign := map[Op]string{OpAdd: "+", OpChange: "~", OpRemove: "-"}[c.Op]
		ew.printf("  %s %s %s", sign, c.Kind, c.Name)
		if c.Destructive {
			ew.printf("  (destructive)")
		}
		ew.printf("\n")
		for _, f := range c.Fields {
			switch {
			case c.Op == OpAdd:
				ew.printf("      %s = %s", f.Field, f.New)
			case f.Old == "":
				ew.printf("      %s: + %s", f.Field, f.New)
			case f.New == "":
				ew.printf("      %s: - %s", f.Field, f.Old)
			default:
				ew.printf("      %s: %s -> %s", f.Field, f.Old, f.New)
			}
			if f.Destructive {
				ew.printf("  (destructive)")
			}
			ew.printf("\n")
		}
		if c.Note != "" {
			ew.printf("      note: %s\n", c.Note)
		}
	}
	ew.printf("\n%s.", p.Summary())
	if n := len(p.Destructive()); n > 0 {
		ew.printf(" %d destructive change(s) need --yes.", n)
	}
	ew.printf("\n")
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// MakePlan compares the definitions with the stored registry's current
// version (nil when there is none).
func MakePlan(project string, cur *almanacv1.Registry, defs *Definitions) (*Plan, error) {
	p := &Plan{Project: project, FromVersion: cur.GetVersion()}
	old := &Definitions{}
	if cur != nil {
		var err error
		if old, err = DefinitionsFromProto(cur); err != nil {
			return nil, fmt.Errorf("read registry version %d: %w", cur.GetVersion(), err)
		}
		if cur.GetProject() != project {
			p.Changes = append(p.Changes, Change{Kind: "project", Name: project, Op: OpChange,
				Fields: []FieldChange{{Field: "name", Old: cur.GetProject(), New: project}}})
		}
	}
	p.Changes = append(p.Changes, diff("entity", old.Entities, defs.Entities, flattenEntity)...)
	p.Changes = append(p.Changes, diff("source", old.Sources, defs.Sources, flattenSource)...)
	views := diff("feature view", old.Views, defs.Views, flattenView)
	for i, c := range views {
		if o, n := old.View(c.Name), defs.View(c.Name); c.Op == OpChange && o.Online && n.Online && !sameRecord(o, n) {
			views[i].Note = noteOnlineRecords
		}
	}
	p.Changes = append(p.Changes, views...)
	p.Changes = append(p.Changes, diff("feature service", old.Services, defs.Services, flattenService)...)
	return p, nil
}

// ErrDestructive is returned by Apply for a plan with destructive changes
// when they were not allowed.
var ErrDestructive = errors.New("registry: destructive changes need confirmation")

// Apply writes defs as the store's next version if they differ from the
// current one. Destructive changes are refused with ErrDestructive unless
// allowDestructive. The plan is made under the store's lock, so it is exactly
// what was applied. Datasets recorded in the registry are kept.
func Apply(ctx context.Context, s *Store, project string, defs *Definitions, allowDestructive bool) (*Plan, *almanacv1.Registry, error) {
	var plan *Plan
	reg, err := s.Update(ctx, func(cur *almanacv1.Registry) (*almanacv1.Registry, string, error) {
		var err error
		if plan, err = MakePlan(project, cur, defs); err != nil || plan.Empty() {
			return nil, "", err
		}
		if d := plan.Destructive(); len(d) > 0 && !allowDestructive {
			names := make([]string, len(d))
			for i, c := range d {
				names[i] = c.Kind + " " + c.Name
			}
			return nil, "", fmt.Errorf("%w: %s; run again with --yes to apply them", ErrDestructive, strings.Join(names, ", "))
		}
		next := defs.ToProto(project)
		next.Datasets = cur.GetDatasets()
		return next, plan.Summary(), nil
	})
	return plan, reg, err
}

// field is one flattened field of an object, in display order.
type field struct {
	name        string
	value       string
	destructive bool // changing or removing it can break readers
}

func diff[T named](kind string, old, cur []T, flatten func(T) []field) []Change {
	var out []Change
	oldByName := make(map[string]T, len(old))
	for _, o := range old {
		oldByName[o.name()] = o
	}
	seen := make(map[string]bool, len(cur))
	for _, c := range cur {
		seen[c.name()] = true
		o, ok := oldByName[c.name()]
		if !ok {
			out = append(out, Change{Kind: kind, Name: c.name(), Op: OpAdd, Fields: diffFields(nil, flatten(c))})
			continue
		}
		if fields := diffFields(flatten(o), flatten(c)); len(fields) > 0 {
			ch := Change{Kind: kind, Name: c.name(), Op: OpChange, Fields: fields}
			ch.Destructive = slices.ContainsFunc(fields, func(f FieldChange) bool { return f.Destructive })
			out = append(out, ch)
		}
	}
	for _, o := range old {
		if !seen[o.name()] {
			out = append(out, Change{Kind: kind, Name: o.name(), Op: OpRemove, Destructive: true})
		}
	}
	return out
}

func diffFields(old, cur []field) []FieldChange {
	oldByName := make(map[string]field, len(old))
	for _, f := range old {
		oldByName[f.name] = f
	}
	var out []FieldChange
	seen := make(map[string]bool, len(cur))
	for _, f := range cur {
		seen[f.name] = true
		o := oldByName[f.name]
		if o.value != f.value {
			out = append(out, FieldChange{Field: f.name, Old: o.value, New: f.value, Destructive: o.value != "" && f.destructive})
		}
	}
	for _, f := range old {
		if !seen[f.name] && f.value != "" {
			out = append(out, FieldChange{Field: f.name, Old: f.value, Destructive: f.destructive})
		}
	}
	return out
}

func flattenFields(prefix string, fs []Field, destructiveType bool) []field {
	var out []field
	for _, f := range fs {
		out = append(out, field{name: prefix + "." + f.Name + ".type", value: f.Type.String(), destructive: destructiveType})
		if f.Description != "" {
			out = append(out, field{name: prefix + "." + f.Name + ".description", value: f.Description})
		}
		out = append(out, flattenTags(prefix+"."+f.Name+".tags", f.Tags)...)
	}
	return out
}

func flattenTags(prefix string, tags map[string]string) []field {
	var out []field
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, field{name: prefix + "." + k, value: tags[k]})
	}
	return out
}

func flattenEntity(e *Entity) []field {
	out := flattenFields("join_keys", e.JoinKeys, true)
	out = append(out, field{name: "description", value: e.Description})
	return append(out, flattenTags("tags", e.Tags)...)
}

func flattenSource(s *Source) []field {
	out := []field{
		{name: "format", value: string(s.Format)},
		{name: "path", value: s.Path},
		{name: "timestamp_field", value: s.TimestampField},
		{name: "created_timestamp_field", value: s.CreatedTimestampField},
	}
	out = append(out, flattenFields("schema", s.Schema, false)...)
	out = append(out, field{name: "description", value: s.Description})
	return append(out, flattenTags("tags", s.Tags)...)
}

func flattenView(v *FeatureView) []field {
	ttl, retention := "", ""
	if v.TTL > 0 {
		ttl, retention = FormatDuration(v.TTL), FormatDuration(v.StaleRetention)
	}
	names := make([]string, len(v.Features))
	for i, f := range v.Features {
		names[i] = f.Name
	}
	out := []field{
		{name: "entities", value: strings.Join(v.Entities, ", "), destructive: true},
		{name: "source", value: v.Source},
		{name: "ttl", value: ttl},
		{name: "stale_retention", value: retention},
		{name: "timestamp_field", value: v.TimestampField},
		{name: "sql", value: strings.Join(strings.Fields(v.SQL), " ")},
	}
	for i, a := range v.Aggregations {
		out = append(out, field{name: fmt.Sprintf("aggregations.%d", i), value: a.text()})
	}
	if v.AggregationInterval > 0 {
		out = append(out, field{name: "aggregation_interval", value: FormatDuration(v.AggregationInterval)})
	}
	out = append(out, field{name: "features", value: strings.Join(names, ", ")})
	out = append(out, flattenFields("features", v.Features, true)...)
	for _, w := range v.Windows {
		out = append(out, field{name: "features." + w.Name + ".window", value: v.DescribeWindow(w)})
	}
	out = append(out,
		field{name: "online", value: fmt.Sprint(v.Online)},
		field{name: "description", value: v.Description})
	out = append(out, flattenMonitoring("monitoring", v.Monitoring)...)
	out = append(out, flattenExpectations(v.Expect)...)
	return append(out, flattenTags("tags", v.Tags)...)
}

// sameRecord reports whether views a and b store the same online records:
// the same features, with the same types and aggregations, in the same order.
func sameRecord(a, b *FeatureView) bool {
	return slices.EqualFunc(a.Features, b.Features, func(x, y Field) bool { return x.Name == y.Name && x.Type == y.Type }) &&
		slices.EqualFunc(a.Windows, b.Windows, func(x, y WindowFeature) bool { return a.DescribeWindow(x) == b.DescribeWindow(y) })
}

func flattenService(s *FeatureService) []field {
	refs := make([]string, len(s.Features))
	for i, r := range s.Features {
		refs[i] = r.String()
	}
	out := []field{{name: "features", value: strings.Join(refs, ", ")}, {name: "description", value: s.Description}}
	if s.LogSampleRate != nil {
		out = append(out, field{name: "logging.sample_rate", value: fmt.Sprint(*s.LogSampleRate)})
	}
	out = append(out, flattenMonitoring("monitoring", s.Monitoring)...)
	return append(out, flattenTags("tags", s.Tags)...)
}
