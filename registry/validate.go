package registry

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// posIn returns the position of path inside the document n of file.
func posIn(p Pos, n *yaml.Node, path ...string) Pos {
	if n == nil {
		return p
	}
	return Pos{File: p.File, Line: nodeAt(n, path...).Line}
}

// validate checks what a definition says about the others: unique names and
// references that resolve.
func validate(defs *Definitions, probs *Problems) {
	checkUnique("entity", defs.Entities, probs)
	checkUnique("source", defs.Sources, probs)
	checkUnique("feature view", defs.Views, probs)
	checkUnique("feature service", defs.Services, probs)

	entityNames := names(defs.Entities)
	sourceNames := names(defs.Sources)
	viewNames := names(defs.Views)
	for _, v := range defs.Views {
		obj := fmt.Sprintf("feature view %q", Clip(v.Name))
		for i, name := range v.Entities {
			if defs.Entity(name) == nil {
				probs.add(posIn(v.Pos, v.node, "entities", strconv.Itoa(i)), obj, "entity %q not found%s", Clip(name), orList(name, entityNames))
			}
		}
		if v.Source != "" && defs.Source(v.Source) == nil {
			probs.add(posIn(v.Pos, v.node, "source"), obj, "source %q not found%s", Clip(v.Source), orList(v.Source, sourceNames))
		}
		checkViewColumns(defs, v, probs)
	}
	for _, s := range defs.Services {
		obj := fmt.Sprintf("feature service %q", Clip(s.Name))
		checkServiceMonitoring(defs, s, obj, probs)
		for i, ref := range s.Features {
			pos := posIn(s.Pos, s.node, "features", strconv.Itoa(i))
			v := defs.View(ref.View)
			if v == nil {
				probs.add(pos, obj, "feature view %q not found%s", Clip(ref.View), orList(ref.View, viewNames))
				continue
			}
			for _, f := range ref.Features {
				if names := v.featureNames(); !slices.Contains(names, f) {
					probs.add(pos, obj, "feature view %q has no feature %q%s", v.Name, Clip(f), orList(f, names))
				}
			}
		}
	}
}

// checkViewColumns checks that a feature's name does not shadow a join key or
// the timestamp, and for push sources without SQL, that the declared schema
// holds every column the view needs. It gives an aggregated view its
// features when their types are known without looking at data: from the
// declared schema of its source, for a view without SQL, or when it
// aggregates no column.
func checkViewColumns(defs *Definitions, v *FeatureView, probs *Problems) {
	obj := fmt.Sprintf("feature view %q", Clip(v.Name))
	keys := viewJoinKeys(defs, v)
	src := defs.Source(v.Source)
	ts := defs.TimestampField(v)
	shadows := func(name string) bool { return name == ts || hasField(keys, name) }
	if v.Aggregated() {
		for _, f := range v.standInFeatures() {
			if shadows(f.Name) {
				probs.add(posIn(v.Pos, v.node, "aggregations", strconv.Itoa(f.Aggregation)), obj, "aggregation %d computes feature %q, the name of a join key or the timestamp; give the aggregation a \"name:\"", f.Aggregation+1, Clip(f.Name))
			}
		}
	}
	for i, f := range v.Features {
		if !v.Aggregated() && shadows(f.Name) {
			probs.add(posIn(v.Pos, v.node, "features", strconv.Itoa(i), "name"), obj, "feature %q has the name of a join key or the timestamp; rename the feature", Clip(f.Name))
		}
	}
	if src == nil {
		return
	}
	if src.Format == FormatPush && v.SQL != "" {
		probs.add(posIn(v.Pos, v.node, "sql"), obj, "a view over push source %q cannot have sql: pushed rows are stored as they arrive; compute the features before pushing, or remove sql", src.Name)
		return
	}
	cols := make([]Column, len(src.Schema))
	for i, f := range src.Schema {
		cols[i] = Column{Name: f.Name, Type: f.Type}
	}
	input := fmt.Sprintf("source %q schema", src.Name)
	switch {
	case src.Format == FormatPush:
		before := len(*probs)
		if feats := checkColumns(v, keys, ts, cols, input, probs); len(*probs) == before && v.Aggregated() {
			v.setWindows(feats)
		}
	case !v.Aggregated() || v.aggProblems:
	case !v.aggregatesColumns():
		v.setWindows(windowFeatures(v, nil, "", probs))
	case v.SQL == "" && schemaHas(src, v.Aggregations):
		if feats := windowFeatures(v, cols, input, probs); feats != nil {
			v.setWindows(feats)
		}
	}
}

// schemaHas reports whether src declares every column aggs aggregate.
func schemaHas(src *Source, aggs []Aggregation) bool {
	for _, a := range aggs {
		if a.Column != "" && !hasField(src.Schema, a.Column) {
			return false
		}
	}
	return true
}

// checkColumns compares what a view needs with the columns its input has.
// For an aggregated view it returns the features the aggregations compute
// over those columns (nil after a problem), and checks that the view's
// features, when already resolved, can hold them.
func checkColumns(v *FeatureView, keys []Field, ts string, cols []Column, input string, probs *Problems) []WindowFeature {
	obj := fmt.Sprintf("feature view %q", Clip(v.Name))
	byName := make(map[string]Column, len(cols))
	colNames := make([]string, len(cols))
	for i, c := range cols {
		byName[c.Name] = c
		colNames[i] = c.Name
	}
	need := func(pos Pos, what string, f Field) {
		c, ok := byName[f.Name]
		switch {
		case !ok:
			probs.add(pos, obj, "%s has no column %q for %s%s", input, Clip(f.Name), what, DidYouMean(f.Name, colNames))
		case f.Type.Valid() && !Convertible(c.Type, f.Type):
			probs.add(pos, obj, "%s column %q is %s, which cannot hold %s %s; change the type or cast the column", input, Clip(f.Name), c.describe(), what, f.Type)
		}
	}
	for _, k := range keys {
		need(posIn(v.Pos, v.node, "entities"), "join key", k)
	}
	need(posIn(v.Pos, v.node, "source"), "the event timestamp", Field{Name: ts, Type: TypeTimestamp})
	if v.Aggregated() {
		if v.aggProblems {
			return nil
		}
		feats := windowFeatures(v, cols, input, probs)
		if v.resolved() {
			checkWindowTypes(v, feats, input, probs)
		}
		return feats
	}
	for i, f := range v.Features {
		need(posIn(v.Pos, v.node, "features", strconv.Itoa(i)), "feature", f)
	}
	return nil
}

// viewJoinKeys returns the join keys of the view's entities that exist.
func viewJoinKeys(defs *Definitions, v *FeatureView) []Field {
	var keys []Field
	for _, name := range v.Entities {
		if e := defs.Entity(name); e != nil {
			keys = append(keys, e.JoinKeys...)
		}
	}
	return keys
}

type named interface{ name() string }

func names[T named](objs []T) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.name()
	}
	return out
}

func fieldNames(fs []Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

type positioned interface {
	named
	pos() Pos
}

func (e *Entity) pos() Pos         { return e.Pos }
func (s *Source) pos() Pos         { return s.Pos }
func (v *FeatureView) pos() Pos    { return v.Pos }
func (s *FeatureService) pos() Pos { return s.Pos }

func checkUnique[T positioned](kind string, objs []T, probs *Problems) {
	first := make(map[string]Pos)
	for _, o := range objs {
		if o.name() == "" {
			continue
		}
		if p, ok := first[o.name()]; ok {
			probs.add(o.pos(), fmt.Sprintf("%s %q", kind, Clip(o.name())), "defined twice (first at %s); rename or remove one", p)
			continue
		}
		first[o.name()] = o.pos()
	}
}

// JoinKeys returns the join keys of the view's entities, in order.
func (d *Definitions) JoinKeys(v *FeatureView) []Field { return viewJoinKeys(d, v) }

// TimestampField returns the view's event-time column: its own setting or
// its source's.
func (d *Definitions) TimestampField(v *FeatureView) string {
	if v.TimestampField != "" {
		return v.TimestampField
	}
	if src := d.Source(v.Source); src != nil {
		return src.TimestampField
	}
	return ""
}

// CheckViewColumns compares what v needs (join keys, timestamp, and its
// features' columns, or for an aggregated view the columns its aggregations
// take, giving the types of its features) with cols, the columns of its
// input, called input in messages.
func (d *Definitions) CheckViewColumns(v *FeatureView, cols []Column, input string) Problems {
	var probs Problems
	checkColumns(v, viewJoinKeys(d, v), d.TimestampField(v), cols, input, &probs)
	return probs
}

// checkServiceMonitoring checks that a service's per-feature monitoring
// names "view:feature" references of features the service selects.
func checkServiceMonitoring(defs *Definitions, s *FeatureService, obj string, probs *Problems) {
	if s.Monitoring == nil {
		return
	}
	var selected []string
	for _, ref := range s.Features {
		v := defs.View(ref.View)
		if v == nil {
			continue
		}
		names := ref.Features
		if len(names) == 0 {
			names = v.featureNames()
		}
		for _, n := range names {
			selected = append(selected, v.Name+":"+n)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.Monitoring.Features)) {
		if !slices.Contains(selected, key) {
			probs.add(posIn(s.Pos, s.node, "monitoring", "features", key), obj, "monitoring of %q, which the service does not select%s", Clip(key), orList(key, selected))
		}
	}
}
