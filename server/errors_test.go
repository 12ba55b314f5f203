package server_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/offline"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/sdk"
)

// TestLookupErrors checks that bad lookups get the right code, a message
// naming the culprit, and never reach the online store.
func TestLookupErrors(t *testing.T) {
	store := &countingStore{}
	env := servertest.Start(t, servertest.Options{
		MaxEntities: 3,
		WrapStore: func(s online.Store) online.Store {
			store.Store = s
			return store
		},
	})
	// A minute: requests of 3 MB take their time under the race detector.
	c := dial(t, env.Addr, sdk.WithTimeout(time.Minute))
	one := drivers(1001)
	// A name or value of 3 MB is quoted by its first bytes only.
	huge := strings.Repeat("x", 3<<20)
	tests := []struct {
		name     string
		query    sdk.Query
		code     codes.Code
		mentions []string
	}{
		{
			name:     "unknown feature service",
			query:    sdk.Query{FeatureService: "driver_rankin_v1", Entities: one},
			code:     codes.NotFound,
			mentions: []string{`"driver_rankin_v1"`, `"driver_ranking_v1"`},
		},
		{
			name:     "unknown view",
			query:    sdk.Query{Features: []string{"driver_stat:conv_rate"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_stat"`, `"driver_stats"`},
		},
		{
			name:     "unknown feature",
			query:    sdk.Query{Features: []string{"driver_stats:conv_rat"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_stats"`, `"conv_rat"`, `"conv_rate"`},
		},
		{
			name:     "bad reference, empty feature",
			query:    sdk.Query{Features: []string{"driver_stats:"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_stats:"`},
		},
		{
			name:     "bad reference, two colons",
			query:    sdk.Query{Features: []string{"driver_stats:conv_rate:x"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_stats:conv_rate:x"`},
		},
		{
			name:     "view not served online",
			query:    sdk.Query{Features: []string{"driver_history:trips"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_history"`, "online"},
		},
		{
			name:     "missing join key",
			query:    sdk.Query{Features: []string{"driver_stats:trips", "customer_stats:tier"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"customer_id"`, "missing"},
		},
		{
			name:     "no entities at all",
			query:    sdk.Query{FeatureService: servertest.DriverRanking},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`},
		},
		{
			name:     "string for an int64 key",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {int64(1001), "1002"}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`, "row 1", "int64", "1002"},
		},
		{
			name:     "float for an int64 key",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {1001.5}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`, "int64"},
		},
		{
			name:     "null key",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {1001, nil}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`, "row 1", "null"},
		},
		{
			name:     "ragged entity columns",
			query:    sdk.Query{FeatureService: servertest.Pricing, Entities: sdk.Entities{"driver_id": {1001, 1002}, "customer_id": {501}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`, `"customer_id"`, "2", "1"},
		},
		{
			name:     "unknown entity key",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {1001}, "drivr_id": {1001}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"drivr_id"`, `did you mean "driver_id"`},
		},
		{
			name:     "batch over MaxEntities",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001, 1002, 1003, 1004)},
			code:     codes.InvalidArgument,
			mentions: []string{"4", "limit of 3"},
		},
		{
			name:     "huge feature name",
			query:    sdk.Query{Features: []string{"driver_stats:" + huge}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_stats"`, "has no feature", `"xxxxxxxx`, "3145728 bytes"},
		},
		{
			name:     "huge view name",
			query:    sdk.Query{Features: []string{huge + ":conv_rate"}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{"feature view", "not found", "3145728 bytes"},
		},
		{
			name:     "huge bad reference",
			query:    sdk.Query{Features: []string{"a:b:" + huge}, Entities: one},
			code:     codes.InvalidArgument,
			mentions: []string{"bad feature reference", "view:feature", "3145732 bytes"},
		},
		{
			name:     "huge feature service name",
			query:    sdk.Query{FeatureService: huge, Entities: one},
			code:     codes.NotFound,
			mentions: []string{"feature service", "not found", "3145728 bytes"},
		},
		{
			name:     "huge entity key name",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {1001}, huge: {1001}}},
			code:     codes.InvalidArgument,
			mentions: []string{"unknown entity key", "3145728 bytes"},
		},
		{
			name:     "huge string for an int64 key",
			query:    sdk.Query{FeatureService: servertest.DriverRanking, Entities: sdk.Entities{"driver_id": {huge}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"driver_id"`, "int64", "3145728 bytes"},
		},
		{
			name:     "colliding short names without full names",
			query:    sdk.Query{Features: []string{"driver_stats:conv_rate", "customer_stats:conv_rate"}, Entities: sdk.Entities{"driver_id": {1001}, "customer_id": {501}}},
			code:     codes.InvalidArgument,
			mentions: []string{`"conv_rate"`, "full_feature_names"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := store.reads.Load()
			_, err := c.GetOnlineFeatures(t.Context(), tt.query)
			checkStatus(t, err, tt.code, tt.mentions...)
			if msg := status.Convert(err).Message(); len(msg) > 1<<10 {
				t.Errorf("message of %d bytes, want at most 1 KB: %.200q…", len(msg), msg)
			}
			if n := store.reads.Load() - before; n != 0 {
				t.Errorf("the invalid request read the online store %d times; validation must come first", n)
			}
		})
	}

	t.Run("at MaxEntities", func(t *testing.T) {
		if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001, 1002, 1003)}); err != nil {
			t.Errorf("3 rows with MaxEntities 3: %v", err)
		}
	})

	raw := almanacv1.NewFeatureServerClient(rawClient(t, env.Addr))
	rawTests := []struct {
		name     string
		req      *almanacv1.GetOnlineFeaturesRequest
		mentions []string
	}{
		{
			name:     "neither service nor features",
			req:      &almanacv1.GetOnlineFeaturesRequest{Entities: map[string]*almanacv1.RepeatedValue{"driver_id": {Val: []*almanacv1.Value{int64Val(1001)}}}},
			mentions: []string{"feature_service", "features"},
		},
		{
			name: "empty feature list",
			req: &almanacv1.GetOnlineFeaturesRequest{
				Kind:     &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{}},
				Entities: map[string]*almanacv1.RepeatedValue{"driver_id": {Val: []*almanacv1.Value{int64Val(1001)}}},
			},
			mentions: []string{"no features"},
		},
	}
	for _, tt := range rawTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.GetOnlineFeatures(t.Context(), tt.req)
			checkStatus(t, err, codes.InvalidArgument, tt.mentions...)
		})
	}
}

// TestDeadlineExceeded checks a lookup still waiting for the online store
// when its deadline passes: the client gets DEADLINE_EXCEEDED, the server
// gives up on the read (its handler ends with DEADLINE_EXCEEDED, or
// CANCELED when the client's cancellation arrives first, which the server
// cannot tell apart), and keeps serving. Called in process, where only the
// deadline can end the request, the handler's code is DEADLINE_EXCEEDED.
func TestDeadlineExceeded(t *testing.T) {
	gate := &gateStore{}
	handled := make(chan error, 1)
	env := servertest.Start(t, servertest.Options{
		WrapStore: func(s online.Store) online.Store {
			gate = newGateStore(s)
			return gate
		},
		GRPCOptions: []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			if info.FullMethod == almanacv1.FeatureServer_GetOnlineFeatures_FullMethodName {
				handled <- err
			}
			return resp, err
		})},
	})
	t.Cleanup(gate.release)
	c := dial(t, env.Addr, sdk.WithTimeout(200*time.Millisecond))
	query := sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}
	_, err := c.GetOnlineFeatures(t.Context(), query)
	checkStatus(t, err, codes.DeadlineExceeded)
	if code := status.Code(<-handled); code != codes.DeadlineExceeded && code != codes.Canceled {
		t.Errorf("the server's handler ended with %v, want DeadlineExceeded (or Canceled)", code)
	}

	t.Run("in process", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := env.Server.GetOnlineFeatures(ctx, &almanacv1.GetOnlineFeaturesRequest{
			Kind:     &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: servertest.DriverRanking},
			Entities: map[string]*almanacv1.RepeatedValue{"driver_id": {Val: []*almanacv1.Value{int64Val(1001)}}},
		})
		checkStatus(t, err, codes.DeadlineExceeded, "deadline", "online store")
	})

	gate.release()
	if _, err := c.GetOnlineFeatures(t.Context(), query); err != nil {
		t.Errorf("after the store answers again: %v", err)
	}
	if err := <-handled; err != nil {
		t.Errorf("the server's handler: %v", err)
	}
}

// TestPushErrors checks that bad pushes get INVALID_ARGUMENT naming the
// culprit and store nothing, online or offline: among them event times
// before 1900, past push.max_future or beyond what DuckDB holds.
func TestPushErrors(t *testing.T) {
	store := &countingStore{}
	env := servertest.Start(t, servertest.Options{
		WrapStore: func(s online.Store) online.Store {
			store.Store = s
			return store
		},
	})
	c := dial(t, env.Addr)
	at := env.Now.Add(-time.Minute)
	tests := []struct {
		name     string
		source   string
		cols     map[string][]any
		mentions []string
	}{
		{
			name:     "unknown source",
			source:   "driver_locaton",
			cols:     map[string][]any{"driver_id": {1001}, "event_ts": {at}},
			mentions: []string{`"driver_locaton"`, `"driver_location"`},
		},
		{
			name:     "not a push source",
			source:   "driver_stats",
			cols:     map[string][]any{"driver_id": {1001}, "event_ts": {at}, "conv_rate": {0.5}},
			mentions: []string{`"driver_stats"`, "push"},
		},
		{
			name:     "unknown column",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001}, "event_ts": {at}, "stauts": {"available"}},
			mentions: []string{`"stauts"`, `did you mean "status"`},
		},
		{
			name:     "wrong type",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001}, "event_ts": {at}, "lat": {"north"}},
			mentions: []string{`"lat"`, "float64"},
		},
		{
			name:     "string for the int64 join key",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {"1001"}, "event_ts": {at}, "lat": {48.8}},
			mentions: []string{`"driver_id"`, "int64"},
		},
		{
			name:     "missing event time",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001}, "lat": {48.8}},
			mentions: []string{`"event_ts"`, "missing"},
		},
		{
			name:     "missing join key",
			source:   servertest.PushSource,
			cols:     map[string][]any{"event_ts": {at}, "lat": {48.8}},
			mentions: []string{`"driver_id"`, "missing"},
		},
		{
			name:     "null join key",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, nil}, "event_ts": {at, at}},
			mentions: []string{`"driver_id"`, "row 1", "null"},
		},
		{
			name:     "ragged columns",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, at}, "lat": {48.8}},
			mentions: []string{"lengths"},
		},
		{
			name:     "event in year 3000",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}},
			mentions: []string{`column "event_ts", row 1`, "3000-01-01T00:00:00Z", "push.max_future (1h)"},
		},
		{
			name:     "event past push.max_future",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, env.Now.Add(time.Hour + time.Second)}},
			mentions: []string{`column "event_ts", row 1`, env.Now.Add(time.Hour).UTC().Format(time.RFC3339)},
		},
		{
			name:     "event in year 1",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}},
			mentions: []string{`column "event_ts", row 1`, "0001-01-01T00:00:00Z", "before 1900-01-01"},
		},
		{
			name:     "event beyond DuckDB's range",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, time.UnixMilli(math.MaxInt64)}},
			mentions: []string{`column "event_ts", row 1`, "push.max_future"},
		},
		{
			name:     "event before DuckDB's range",
			source:   servertest.PushSource,
			cols:     map[string][]any{"driver_id": {1001, 1002}, "event_ts": {at, time.UnixMilli(math.MinInt64)}},
			mentions: []string{`column "event_ts", row 1`, "before 1900-01-01"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Push(t.Context(), tt.source, tt.cols)
			checkStatus(t, err, codes.InvalidArgument, tt.mentions...)
		})
	}
	if n := store.writes.Load(); n != 0 {
		t.Errorf("invalid pushes wrote the online store %d times", n)
	}
	if snap, err := env.Offline.Snapshot("driver_location"); !errors.Is(err, offline.ErrNoData) {
		t.Errorf("invalid pushes reached the offline store: snapshot %+v, %v", snap, err)
	}
}

// TestPushUnimplemented checks Push on a server without a Pusher.
func TestPushUnimplemented(t *testing.T) {
	env := servertest.Start(t, servertest.Options{NoPusher: true})
	c := dial(t, env.Addr)
	_, err := c.Push(t.Context(), servertest.PushSource, map[string][]any{"driver_id": {1001}, "event_ts": {env.Now}})
	checkStatus(t, err, codes.Unimplemented)
	if st, _ := status.FromError(err); st.Message() == "" {
		t.Error("UNIMPLEMENTED without a message")
	}
}

// TestCorruptRecord checks that a record the server cannot decode fails the
// lookup with DATA_LOSS naming its view and entity, instead of serving
// garbage.
func TestCorruptRecord(t *testing.T) {
	env := servertest.Start(t, servertest.Options{
		WrapStore: func(s online.Store) online.Store { return &truncatingStore{Store: s} },
	})
	c := dial(t, env.Addr)
	if _, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001)}); err != nil {
		t.Fatalf("lookup of an entity whose records are whole: %v", err)
	}
	_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: servertest.DriverRanking, Entities: drivers(1001, 1002)})
	checkStatus(t, err, codes.DataLoss, "corrupt", "driver_id=1002", `view "driver_`)
}

// truncatingStore cuts the last byte off every record of driver 1002 it
// reads.
type truncatingStore struct{ online.Store }

func (s *truncatingStore) ReadEncoded(ctx context.Context, lookups []online.Lookup) ([]string, error) {
	encoded, err := online.ReadEncoded(ctx, s.Store, lookups)
	for i, l := range lookups {
		if encoded != nil && encoded[i] != "" && l.Key[0].GetInt64Val() == 1002 {
			encoded[i] = encoded[i][:len(encoded[i])-1]
		}
	}
	return encoded, err
}
