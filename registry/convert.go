package registry

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

var valueTypes = map[Type]almanacv1.ValueType{
	TypeBytes:         almanacv1.ValueType_VALUE_TYPE_BYTES,
	TypeString:        almanacv1.ValueType_VALUE_TYPE_STRING,
	TypeInt32:         almanacv1.ValueType_VALUE_TYPE_INT32,
	TypeInt64:         almanacv1.ValueType_VALUE_TYPE_INT64,
	TypeFloat64:       almanacv1.ValueType_VALUE_TYPE_FLOAT64,
	TypeFloat32:       almanacv1.ValueType_VALUE_TYPE_FLOAT32,
	TypeBool:          almanacv1.ValueType_VALUE_TYPE_BOOL,
	TypeTimestamp:     almanacv1.ValueType_VALUE_TYPE_TIMESTAMP,
	ListOf(Bytes):     almanacv1.ValueType_VALUE_TYPE_LIST_BYTES,
	ListOf(String):    almanacv1.ValueType_VALUE_TYPE_LIST_STRING,
	ListOf(Int32):     almanacv1.ValueType_VALUE_TYPE_LIST_INT32,
	ListOf(Int64):     almanacv1.ValueType_VALUE_TYPE_LIST_INT64,
	ListOf(Float64):   almanacv1.ValueType_VALUE_TYPE_LIST_FLOAT64,
	ListOf(Float32):   almanacv1.ValueType_VALUE_TYPE_LIST_FLOAT32,
	ListOf(Bool):      almanacv1.ValueType_VALUE_TYPE_LIST_BOOL,
	ListOf(Timestamp): almanacv1.ValueType_VALUE_TYPE_LIST_TIMESTAMP,
}

// Proto returns the wire form of t.
func (t Type) Proto() almanacv1.ValueType { return valueTypes[t] }

// TypeFromProto returns the type of a wire value type.
func TypeFromProto(vt almanacv1.ValueType) (Type, error) {
	for t, p := range valueTypes {
		if p == vt {
			return t, nil
		}
	}
	return Type{}, fmt.Errorf("unknown value type %v", vt)
}

var sourceFormats = map[Format]almanacv1.SourceFormat{
	FormatParquet: almanacv1.SourceFormat_SOURCE_FORMAT_PARQUET,
	FormatCSV:     almanacv1.SourceFormat_SOURCE_FORMAT_CSV,
	FormatPush:    almanacv1.SourceFormat_SOURCE_FORMAT_PUSH,
}

func fieldsToProto(fs []Field) []*almanacv1.Field {
	out := make([]*almanacv1.Field, len(fs))
	for i, f := range fs {
		out[i] = &almanacv1.Field{Name: f.Name, Type: f.Type.Proto(), Description: f.Description, Tags: f.Tags}
	}
	return out
}

func fieldsFromProto(fs []*almanacv1.Field) ([]Field, error) {
	out := make([]Field, len(fs))
	for i, f := range fs {
		t, err := TypeFromProto(f.GetType())
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.GetName(), err)
		}
		out[i] = Field{Name: f.GetName(), Type: t, Description: f.GetDescription(), Tags: f.GetTags()}
	}
	return out, nil
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func sortedByName[T named](objs []T) []T {
	return slices.SortedFunc(slices.Values(objs), func(a, b T) int { return strings.Compare(a.name(), b.name()) })
}

// ToProto returns the wire form of the definitions, each kind sorted by name
// so that the same definitions always give the same registry.
func (d *Definitions) ToProto(project string) *almanacv1.Registry {
	r := &almanacv1.Registry{Project: project}
	for _, e := range sortedByName(d.Entities) {
		r.Entities = append(r.Entities, &almanacv1.Entity{Name: e.Name, JoinKeys: fieldsToProto(e.JoinKeys), Description: e.Description, Tags: e.Tags})
	}
	for _, s := range sortedByName(d.Sources) {
		r.Sources = append(r.Sources, &almanacv1.Source{Name: s.Name, Format: sourceFormats[s.Format], Path: s.Path,
			TimestampField: s.TimestampField, CreatedTimestampField: s.CreatedTimestampField,
			Schema: fieldsToProto(s.Schema), Description: s.Description, Tags: s.Tags})
	}
	for _, v := range sortedByName(d.Views) {
		pv := &almanacv1.FeatureView{Name: v.Name, Entities: v.Entities, Source: v.Source,
			TimestampField: v.TimestampField, Sql: v.SQL, Features: fieldsToProto(v.Features),
			Online: v.Online, Description: v.Description, Tags: v.Tags,
			Monitoring: monitoringToProto(v.Monitoring), Expect: expectationsToProto(v.Expect)}
		if v.TTL > 0 {
			pv.Ttl = durationpb.New(v.TTL)
			pv.StaleRetention = durationpb.New(v.StaleRetention)
		}
		for _, a := range v.Aggregations {
			pv.Aggregations = append(pv.Aggregations, a.proto())
		}
		if v.AggregationInterval > 0 {
			pv.AggregationInterval = durationpb.New(v.AggregationInterval)
		}
		r.FeatureViews = append(r.FeatureViews, pv)
	}
	for _, s := range sortedByName(d.Services) {
		ps := &almanacv1.FeatureService{Name: s.Name, Description: s.Description, Tags: s.Tags,
			Monitoring: monitoringToProto(s.Monitoring), LogSampleRate: optional(s.LogSampleRate)}
		for _, ref := range s.Features {
			ps.Features = append(ps.Features, &almanacv1.FeatureReference{View: ref.View, Features: ref.Features})
		}
		r.FeatureServices = append(r.FeatureServices, ps)
	}
	for _, ds := range sortedByName(d.Datasets) {
		r.Datasets = append(r.Datasets, ds.proto())
	}
	return r
}

// DefinitionsFromProto returns the definitions held in a stored registry.
func DefinitionsFromProto(r *almanacv1.Registry) (*Definitions, error) {
	d := &Definitions{}
	for _, e := range r.GetEntities() {
		keys, err := fieldsFromProto(e.GetJoinKeys())
		if err != nil {
			return nil, fmt.Errorf("entity %q: %w", e.GetName(), err)
		}
		d.Entities = append(d.Entities, &Entity{Name: e.GetName(), JoinKeys: keys, Description: e.GetDescription(), Tags: e.GetTags()})
	}
	for _, s := range r.GetSources() {
		schema, err := fieldsFromProto(s.GetSchema())
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s.GetName(), err)
		}
		var format Format
		for f, p := range sourceFormats {
			if p == s.GetFormat() {
				format = f
			}
		}
		if format == "" {
			return nil, fmt.Errorf("source %q: unknown format %v", s.GetName(), s.GetFormat())
		}
		d.Sources = append(d.Sources, &Source{Name: s.GetName(), Format: format, Path: s.GetPath(),
			TimestampField: s.GetTimestampField(), CreatedTimestampField: s.GetCreatedTimestampField(),
			Schema: schema, Description: s.GetDescription(), Tags: s.GetTags()})
	}
	for _, v := range r.GetFeatureViews() {
		features, err := fieldsFromProto(v.GetFeatures())
		if err != nil {
			return nil, fmt.Errorf("feature view %q: %w", v.GetName(), err)
		}
		ttl := v.GetTtl().AsDuration()
		retention := ttl // registries stored before stale_retention existed have none
		if r := v.GetStaleRetention(); r != nil {
			retention = r.AsDuration()
		}
		view := &FeatureView{Name: v.GetName(), Entities: v.GetEntities(), Source: v.GetSource(),
			TTL: ttl, StaleRetention: retention, TimestampField: v.GetTimestampField(), SQL: v.GetSql(),
			Features: features, Online: v.GetOnline(), Description: v.GetDescription(), Tags: v.GetTags(),
			Monitoring: monitoringFromProto(v.GetMonitoring()), Expect: expectationsFromProto(v.GetExpect()),
			AggregationInterval: v.GetAggregationInterval().AsDuration()}
		if err := view.windowsFromProto(v.GetAggregations()); err != nil {
			return nil, fmt.Errorf("feature view %q: %w", v.GetName(), err)
		}
		d.Views = append(d.Views, view)
	}
	for _, s := range r.GetFeatureServices() {
		fs := &FeatureService{Name: s.GetName(), Description: s.GetDescription(), Tags: s.GetTags(),
			Monitoring: monitoringFromProto(s.GetMonitoring()), LogSampleRate: optional(s.LogSampleRate)}
		for _, ref := range s.GetFeatures() {
			fs.Features = append(fs.Features, FeatureRef{View: ref.GetView(), Features: ref.GetFeatures()})
		}
		d.Services = append(d.Services, fs)
	}
	for _, ds := range r.GetDatasets() {
		d.Datasets = append(d.Datasets, &Dataset{Name: ds.GetName(), FeatureService: ds.GetFeatureService(),
			Features: ds.GetFeatures(), EntityPath: ds.GetEntityPath(), OutputPath: ds.GetOutputPath(),
			RowCount: ds.GetRowCount(), Start: timeFromProto(ds.GetStart()), End: timeFromProto(ds.GetEnd()),
			CreatedAt: timeFromProto(ds.GetCreatedAt())})
	}
	return d, nil
}

func (ds *Dataset) proto() *almanacv1.Dataset {
	return &almanacv1.Dataset{Name: ds.Name, FeatureService: ds.FeatureService,
		Features: ds.Features, EntityPath: ds.EntityPath, OutputPath: ds.OutputPath, RowCount: ds.RowCount,
		Start: timeToProto(ds.Start), End: timeToProto(ds.End), CreatedAt: timeToProto(ds.CreatedAt)}
}

var aggFunctions = map[AggFunction]almanacv1.AggregationFunction{
	AggCount:  almanacv1.AggregationFunction_AGGREGATION_FUNCTION_COUNT,
	AggSum:    almanacv1.AggregationFunction_AGGREGATION_FUNCTION_SUM,
	AggMean:   almanacv1.AggregationFunction_AGGREGATION_FUNCTION_MEAN,
	AggMin:    almanacv1.AggregationFunction_AGGREGATION_FUNCTION_MIN,
	AggMax:    almanacv1.AggregationFunction_AGGREGATION_FUNCTION_MAX,
	AggStddev: almanacv1.AggregationFunction_AGGREGATION_FUNCTION_STDDEV,
	AggLast:   almanacv1.AggregationFunction_AGGREGATION_FUNCTION_LAST,
	AggLastN:  almanacv1.AggregationFunction_AGGREGATION_FUNCTION_LAST_N,
}

func (a Aggregation) proto() *almanacv1.Aggregation {
	p := &almanacv1.Aggregation{Function: aggFunctions[a.Function], Column: a.Column, Name: a.Name, N: int32(a.N)}
	for _, w := range a.Windows {
		p.Windows = append(p.Windows, durationpb.New(w))
	}
	return p
}

// windowsFromProto sets v's aggregations from their wire form, and its
// windows from them and its stored features, which keep the types resolved
// when the view was applied.
func (v *FeatureView) windowsFromProto(aggs []*almanacv1.Aggregation) error {
	for i, pa := range aggs {
		a := Aggregation{Column: pa.GetColumn(), Name: pa.GetName(), N: int(pa.GetN())}
		for f, p := range aggFunctions {
			if p == pa.GetFunction() {
				a.Function = f
			}
		}
		if a.Function == AggInvalid {
			return fmt.Errorf("aggregation %d: unknown function %v", i+1, pa.GetFunction())
		}
		for _, w := range pa.GetWindows() {
			a.Windows = append(a.Windows, w.AsDuration())
		}
		v.Aggregations = append(v.Aggregations, a)
	}
	if len(aggs) == 0 {
		return nil
	}
	if len(v.Features) == 0 {
		return nil // stored before plan typed its features: unresolved, as loaded
	}
	windows := v.standInFeatures()
	if len(windows) != len(v.Features) {
		return fmt.Errorf("its %d aggregations compute %d features, but %d are stored", len(aggs), len(windows), len(v.Features))
	}
	for i := range windows {
		if windows[i].Name != v.Features[i].Name {
			return fmt.Errorf("aggregation %d computes feature %q where %q is stored", windows[i].Aggregation+1, windows[i].Name, v.Features[i].Name)
		}
		windows[i].Field = v.Features[i]
	}
	v.Windows = windows
	return nil
}
