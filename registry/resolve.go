package registry

import (
	"errors"
	"fmt"
	"slices"
)

// FullName is the name of a view's feature where features of several views
// meet (full feature names in responses, training sets, feature logs):
// view__feature.
func FullName(view, feature string) string { return view + "__" + feature }

// NotFoundError is a name that matches nothing the registry holds. Every
// lookup by name returns it, so that the same mistake reads the same on
// every path. It matches ErrNotFound with errors.Is.
type NotFoundError struct {
	Kind       string // what was looked for: "feature view", "feature", "source", "column"...
	Name       string // the name asked for, as given
	In         string // where it was looked for, as in `feature view "driver_stats"`; empty: the registry
	Suggestion string // the closest name there is, or ""
}

// NotFound returns the error for the name of kind that none of candidates
// matches, in (see NotFoundError.In), suggesting the closest candidate.
func NotFound(kind, name, in string, candidates []string) *NotFoundError {
	return &NotFoundError{Kind: kind, Name: name, In: in, Suggestion: closest(name, candidates)}
}

// Error reads `feature view "x" not found; did you mean "y"?`, or, with In,
// `feature view "v" has no feature "x"; did you mean "y"?`.
func (e *NotFoundError) Error() string {
	if e.In == "" {
		return fmt.Sprintf("%s %q not found%s", e.Kind, Clip(e.Name), didYouMean(e.Suggestion))
	}
	return fmt.Sprintf("%s has no %s %q%s", e.In, e.Kind, Clip(e.Name), didYouMean(e.Suggestion))
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// LookupEntity returns the entity called name, or a *NotFoundError.
func (d *Definitions) LookupEntity(name string) (*Entity, error) {
	return lookup(d.Entities, "entity", name)
}

// LookupSource returns the source called name, or a *NotFoundError.
func (d *Definitions) LookupSource(name string) (*Source, error) {
	return lookup(d.Sources, "source", name)
}

// LookupView returns the feature view called name, or a *NotFoundError.
func (d *Definitions) LookupView(name string) (*FeatureView, error) {
	return lookup(d.Views, "feature view", name)
}

// LookupService returns the feature service called name, or a
// *NotFoundError.
func (d *Definitions) LookupService(name string) (*FeatureService, error) {
	return lookup(d.Services, "feature service", name)
}

// LookupDataset returns the dataset called name, or a *NotFoundError.
func (d *Definitions) LookupDataset(name string) (*Dataset, error) {
	return lookup(d.Datasets, "dataset", name)
}

func lookup[T any, P interface {
	*T
	name() string
}](objs []P, kind, name string) (P, error) {
	if o := find(objs, name); o != nil {
		return o, nil
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.name()
	}
	return nil, NotFound(kind, name, "", names)
}

// LookupFeature returns the position in v.Features of the feature called
// name, or a *NotFoundError.
func (v *FeatureView) LookupFeature(name string) (int, error) {
	i := slices.IndexFunc(v.Features, func(f Field) bool { return f.Name == name })
	if i >= 0 {
		return i, nil
	}
	names := make([]string, len(v.Features))
	for j, f := range v.Features {
		names[j] = f.Name
	}
	return -1, NotFound("feature", name, fmt.Sprintf("feature view %q", v.Name), names)
}

// ErrNoFeatures is returned by Resolve for an empty list of references.
var ErrNoFeatures = errors.New("no features requested")

// Selection is what a list of feature references resolves to: the views
// in order of first use, and the features in the order they were asked
// for, each once.
type Selection struct {
	Views    []*FeatureView
	Features []SelectedFeature
}

// SelectedFeature is one feature of a Selection.
type SelectedFeature struct {
	View     int    // position of the feature's view in Selection.Views
	Index    int    // position of the feature in the view's Features
	Field    Field  // the feature; Field.Name is its short name
	Ref      string // "view:feature"
	FullName string // view__feature
}

// OfView returns the selected features of Views[view], in selection order.
func (s *Selection) OfView(view int) []SelectedFeature {
	var out []SelectedFeature
	for _, f := range s.Features {
		if f.View == view {
			out = append(out, f)
		}
	}
	return out
}

// Resolve turns references (view:feature, or a whole view) into a
// Selection. A feature asked for again is dropped. It returns ErrNoFeatures
// for no references, and a *NotFoundError for a view or feature that d does
// not hold.
func (d *Definitions) Resolve(refs []FeatureRef) (*Selection, error) {
	if len(refs) == 0 {
		return nil, ErrNoFeatures
	}
	sel := &Selection{}
	viewPos := map[string]int{}
	seen := map[string]bool{}
	add := func(pos, index int) {
		v := sel.Views[pos]
		f := v.Features[index]
		ref := v.Name + ":" + f.Name
		if seen[ref] {
			return
		}
		seen[ref] = true
		sel.Features = append(sel.Features, SelectedFeature{View: pos, Index: index, Field: f, Ref: ref, FullName: FullName(v.Name, f.Name)})
	}
	for _, ref := range refs {
		v, err := d.LookupView(ref.View)
		if err != nil {
			return nil, err
		}
		pos, ok := viewPos[v.Name]
		if !ok {
			pos = len(sel.Views)
			viewPos[v.Name] = pos
			sel.Views = append(sel.Views, v)
		}
		if len(ref.Features) == 0 {
			for i := range v.Features {
				add(pos, i)
			}
			continue
		}
		for _, name := range ref.Features {
			i, err := v.LookupFeature(name)
			if err != nil {
				return nil, err
			}
			add(pos, i)
		}
	}
	return sel, nil
}

// ParseFeatureRefs parses references written as ParseFeatureRef reads them.
func ParseFeatureRefs(refs []string) ([]FeatureRef, error) {
	out := make([]FeatureRef, len(refs))
	for i, r := range refs {
		ref, err := ParseFeatureRef(r)
		if err != nil {
			return nil, err
		}
		out[i] = ref
	}
	return out, nil
}
