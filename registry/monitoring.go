package registry

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// Defaults of monitoring and logging.
const (
	DefaultPSIWarn       = 0.1
	DefaultPSIDrift      = 0.2
	DefaultMinRows       = 100
	DefaultLogSampleRate = 0.1
)

// Monitoring sets when a feature counts as drifted. Nil fields fall back to
// the enclosing level (a feature service's, then its view's), then to the
// defaults.
type Monitoring struct {
	PSIWarn  *float64 `yaml:"psi_warn,omitempty" json:"psi_warn,omitempty"`
	PSIDrift *float64 `yaml:"psi_drift,omitempty" json:"psi_drift,omitempty"`
	MinRows  *int64   `yaml:"min_rows,omitempty" json:"min_rows,omitempty"`
	// Features overrides by feature name in a view, and by "view:feature"
	// in a feature service.
	Features map[string]*Monitoring `yaml:"features,omitempty" json:"features,omitempty"`
}

// Expectations are data-quality rules checked on every materialized range
// of a view.
type Expectations struct {
	// NotNullKeys makes rows with a null join key a violation.
	NotNullKeys bool                    `yaml:"not_null_keys,omitempty" json:"not_null_keys,omitempty"`
	Features    map[string]*Expectation `yaml:"features,omitempty" json:"features,omitempty"`
}

// Expectation holds the rules for one feature.
type Expectation struct {
	Min             *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max             *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	AllowedValues   []string `yaml:"allowed_values,omitempty" json:"allowed_values,omitempty"`
	MaxNullFraction *float64 `yaml:"max_null_fraction,omitempty" json:"max_null_fraction,omitempty"`
}

// Thresholds are the resolved drift settings of one feature.
type Thresholds struct {
	PSIWarn  float64
	PSIDrift float64
	MinRows  int64
}

// Thresholds resolves the drift settings of feature of view, as seen from
// service (nil when the data is not a service's).
func (d *Definitions) Thresholds(service *FeatureService, view *FeatureView, feature string) Thresholds {
	t := Thresholds{PSIWarn: DefaultPSIWarn, PSIDrift: DefaultPSIDrift, MinRows: DefaultMinRows}
	levels := []*Monitoring{view.Monitoring}
	if view.Monitoring != nil {
		levels = append(levels, view.Monitoring.Features[feature])
	}
	if service != nil {
		levels = append(levels, service.Monitoring)
		if service.Monitoring != nil {
			levels = append(levels, service.Monitoring.Features[view.Name+":"+feature])
		}
	}
	for _, m := range levels {
		if m == nil {
			continue
		}
		if m.PSIWarn != nil {
			t.PSIWarn = *m.PSIWarn
		}
		if m.PSIDrift != nil {
			t.PSIDrift = *m.PSIDrift
		}
		if m.MinRows != nil {
			t.MinRows = *m.MinRows
		}
	}
	return t
}

// SampleRate returns the share of the service's lookups the server logs.
func (s *FeatureService) SampleRate() float64 {
	if s.LogSampleRate == nil {
		return DefaultLogSampleRate
	}
	return *s.LogSampleRate
}

// checkMonitoring adds a problem for every threshold out of range and, when
// features is not nil, every override of a feature not in it.
func (d *decoder) checkMonitoring(m *Monitoring, path []string, features []string) {
	if m == nil {
		return
	}
	d.checkThresholds(m, path)
	for _, name := range slices.Sorted(maps.Keys(m.Features)) {
		p := append(slices.Clone(path), "features", name)
		if features != nil && !slices.Contains(features, name) {
			d.problem(d.at(p...), "monitoring of unknown feature %q%s", Clip(name), orList(name, features))
			continue
		}
		if f := m.Features[name]; f != nil {
			if len(f.Features) > 0 {
				d.problem(d.at(p...), "monitoring of feature %q cannot have features of its own", Clip(name))
			}
			d.checkThresholds(f, p)
		}
	}
}

func (d *decoder) checkThresholds(m *Monitoring, path []string) {
	at := func(field string) Pos { return d.at(append(slices.Clone(path), field)...) }
	if m.PSIWarn != nil && *m.PSIWarn <= 0 {
		d.problem(at("psi_warn"), "psi_warn must be above 0, such as %v", DefaultPSIWarn)
	}
	if m.PSIDrift != nil && *m.PSIDrift <= 0 {
		d.problem(at("psi_drift"), "psi_drift must be above 0, such as %v", DefaultPSIDrift)
	}
	if m.PSIWarn != nil && m.PSIDrift != nil && *m.PSIWarn > *m.PSIDrift {
		d.problem(at("psi_warn"), "psi_warn %v is above psi_drift %v; the warning level must not exceed the drift level", *m.PSIWarn, *m.PSIDrift)
	}
	if m.MinRows != nil && *m.MinRows < 1 {
		d.problem(at("min_rows"), "min_rows must be at least 1")
	}
}

// checkExpectations adds a problem for every rule that cannot apply to its
// feature.
func (d *decoder) checkExpectations(e *Expectations, features []Field) {
	if e == nil {
		return
	}
	names := fieldNames(features)
	for _, name := range slices.Sorted(maps.Keys(e.Features)) {
		at := func(field ...string) Pos { return d.at(append([]string{"expect", "features", name}, field...)...) }
		i := slices.Index(names, name)
		if i < 0 {
			d.problem(at(), "expectation for unknown feature %q%s", Clip(name), orList(name, names))
			continue
		}
		x, t := e.Features[name], features[i].Type
		if x == nil {
			continue
		}
		// The types of an aggregated view's features are not known yet.
		typed := t.Valid()
		numeric := !t.List && (t.Elem == Int32 || t.Elem == Int64 || t.Elem == Float32 || t.Elem == Float64)
		if (x.Min != nil || x.Max != nil) && typed && !numeric {
			d.problem(at(), "min and max apply to numeric features; %q is %s", name, t)
		}
		if x.Min != nil && x.Max != nil && *x.Min > *x.Max {
			d.problem(at("min"), "min %v is above max %v", *x.Min, *x.Max)
		}
		if len(x.AllowedValues) > 0 && typed && (t.List || t.Elem == Float32 || t.Elem == Float64 || t.Elem == Bytes || t.Elem == Timestamp) {
			d.problem(at("allowed_values"), "allowed_values apply to string, bool and integer features; %q is %s", name, t)
		}
		if x.MaxNullFraction != nil && (*x.MaxNullFraction < 0 || *x.MaxNullFraction > 1) {
			d.problem(at("max_null_fraction"), "max_null_fraction must be between 0 and 1, such as 0.05")
		}
	}
}

func optional[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func monitoringToProto(m *Monitoring) *almanacv1.Monitoring {
	if m == nil {
		return nil
	}
	out := &almanacv1.Monitoring{PsiWarn: optional(m.PSIWarn), PsiDrift: optional(m.PSIDrift), MinRows: optional(m.MinRows)}
	for name, f := range m.Features {
		if out.Features == nil {
			out.Features = map[string]*almanacv1.Monitoring{}
		}
		out.Features[name] = monitoringToProto(f)
	}
	return out
}

func monitoringFromProto(m *almanacv1.Monitoring) *Monitoring {
	if m == nil {
		return nil
	}
	out := &Monitoring{PSIWarn: optional(m.PsiWarn), PSIDrift: optional(m.PsiDrift), MinRows: optional(m.MinRows)}
	for name, f := range m.GetFeatures() {
		if out.Features == nil {
			out.Features = map[string]*Monitoring{}
		}
		out.Features[name] = monitoringFromProto(f)
	}
	return out
}

func expectationsToProto(e *Expectations) *almanacv1.Expectations {
	if e == nil {
		return nil
	}
	out := &almanacv1.Expectations{NotNullKeys: e.NotNullKeys}
	for name, x := range e.Features {
		if out.Features == nil {
			out.Features = map[string]*almanacv1.Expectation{}
		}
		if x == nil {
			x = &Expectation{}
		}
		out.Features[name] = &almanacv1.Expectation{Min: optional(x.Min), Max: optional(x.Max), AllowedValues: x.AllowedValues, MaxNullFraction: optional(x.MaxNullFraction)}
	}
	return out
}

func expectationsFromProto(e *almanacv1.Expectations) *Expectations {
	if e == nil {
		return nil
	}
	out := &Expectations{NotNullKeys: e.GetNotNullKeys()}
	for name, x := range e.GetFeatures() {
		if out.Features == nil {
			out.Features = map[string]*Expectation{}
		}
		out.Features[name] = &Expectation{Min: optional(x.Min), Max: optional(x.Max), AllowedValues: x.GetAllowedValues(), MaxNullFraction: optional(x.MaxNullFraction)}
	}
	return out
}

// flattenMonitoring renders m for plan diffs.
func flattenMonitoring(prefix string, m *Monitoring) []field {
	if m == nil {
		return nil
	}
	var out []field
	add := func(name string, v string) { out = append(out, field{name: prefix + "." + name, value: v}) }
	if m.PSIWarn != nil {
		add("psi_warn", strconv.FormatFloat(*m.PSIWarn, 'g', -1, 64))
	}
	if m.PSIDrift != nil {
		add("psi_drift", strconv.FormatFloat(*m.PSIDrift, 'g', -1, 64))
	}
	if m.MinRows != nil {
		add("min_rows", strconv.FormatInt(*m.MinRows, 10))
	}
	for _, name := range slices.Sorted(maps.Keys(m.Features)) {
		out = append(out, flattenMonitoring(prefix+".features."+name, m.Features[name])...)
	}
	return out
}

// flattenExpectations renders e for plan diffs.
func flattenExpectations(e *Expectations) []field {
	if e == nil {
		return nil
	}
	out := []field{{name: "expect.not_null_keys", value: strconv.FormatBool(e.NotNullKeys)}}
	for _, name := range slices.Sorted(maps.Keys(e.Features)) {
		x := e.Features[name]
		if x == nil {
			continue
		}
		p := "expect.features." + name + "."
		if x.Min != nil {
			out = append(out, field{name: p + "min", value: strconv.FormatFloat(*x.Min, 'g', -1, 64)})
		}
		if x.Max != nil {
			out = append(out, field{name: p + "max", value: strconv.FormatFloat(*x.Max, 'g', -1, 64)})
		}
		if len(x.AllowedValues) > 0 {
			out = append(out, field{name: p + "allowed_values", value: fmt.Sprint(x.AllowedValues)})
		}
		if x.MaxNullFraction != nil {
			out = append(out, field{name: p + "max_null_fraction", value: strconv.FormatFloat(*x.MaxNullFraction, 'g', -1, 64)})
		}
	}
	return out
}
