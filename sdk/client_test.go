package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/sdk"
)

// fakeServer is a FeatureServer that records what it receives and fails
// the first calls with errors of its choosing. It is our own gRPC service
// standing in for the feature server, to see what the client sends and how
// it reacts.
type fakeServer struct {
	almanacv1.UnimplementedFeatureServerServer

	calls atomic.Int64

	mu       sync.Mutex
	fail     []error // returned by the first calls, in order
	failAll  error   // returned by every call when set
	md       metadata.MD
	deadline time.Duration // remaining time of the last call's deadline; -1 without one
	lookup   *almanacv1.GetOnlineFeaturesRequest
	push     *almanacv1.PushRequest
	resp     *almanacv1.GetOnlineFeaturesResponse
}

func (f *fakeServer) record(ctx context.Context) error {
	n := f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.md, _ = metadata.FromIncomingContext(ctx)
	f.deadline = -1
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	if f.failAll != nil {
		return f.failAll
	}
	if int(n) <= len(f.fail) {
		return f.fail[n-1]
	}
	return nil
}

func (f *fakeServer) GetOnlineFeatures(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) (*almanacv1.GetOnlineFeaturesResponse, error) {
	if err := f.record(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookup = req
	if f.resp != nil {
		return f.resp, nil
	}
	return &almanacv1.GetOnlineFeaturesResponse{}, nil
}

func (f *fakeServer) Push(ctx context.Context, req *almanacv1.PushRequest) (*almanacv1.PushResponse, error) {
	if err := f.record(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.push = req
	var n int
	for _, col := range req.GetColumns() {
		n = len(col.GetVal())
	}
	return &almanacv1.PushResponse{RowsWritten: int64(n)}, nil
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// startFake serves f on a loopback port until the test ends.
func startFake(t *testing.T, f *fakeServer) (addr string, lis *countingListener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis = &countingListener{Listener: l}
	g := grpc.NewServer()
	almanacv1.RegisterFeatureServerServer(g, f)
	done := make(chan struct{})
	go func() { g.Serve(lis); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return l.Addr().String(), lis
}

func dialFake(t *testing.T, addr string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var oneDriver = sdk.Query{FeatureService: "svc", Entities: sdk.Entities{"driver_id": {1001}}}

// calls are the client's two RPCs, for tables that run against both.
var calls = []struct {
	name string
	call func(context.Context, *sdk.Client) error
}{
	{"GetOnlineFeatures", func(ctx context.Context, c *sdk.Client) error {
		_, err := c.GetOnlineFeatures(ctx, oneDriver)
		return err
	}},
	{"Push", func(ctx context.Context, c *sdk.Client) error {
		_, err := c.Push(ctx, "src", map[string][]any{"driver_id": {1001}})
		return err
	}},
}

// TestRetry checks that calls are retried on UNAVAILABLE only, up to the
// configured number of attempts.
func TestRetry(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "store down")
	tests := []struct {
		name     string
		opts     []sdk.Option
		fail     []error
		failAll  error
		attempts int64
		code     codes.Code
	}{
		{name: "success", opts: []sdk.Option{sdk.WithRetry(3, time.Millisecond)}, attempts: 1, code: codes.OK},
		{name: "unavailable once", opts: []sdk.Option{sdk.WithRetry(3, time.Millisecond)}, fail: []error{unavailable}, attempts: 2, code: codes.OK},
		{name: "unavailable twice", opts: []sdk.Option{sdk.WithRetry(3, time.Millisecond)}, fail: []error{unavailable, unavailable}, attempts: 3, code: codes.OK},
		{name: "unavailable always", opts: []sdk.Option{sdk.WithRetry(3, time.Millisecond)}, failAll: unavailable, attempts: 3, code: codes.Unavailable},
		{name: "unavailable always, 5 attempts", opts: []sdk.Option{sdk.WithRetry(5, time.Millisecond)}, failAll: unavailable, attempts: 5, code: codes.Unavailable},
		{name: "default: 3 attempts", failAll: unavailable, attempts: 3, code: codes.Unavailable},
		{name: "one attempt", opts: []sdk.Option{sdk.WithRetry(1, time.Millisecond)}, failAll: unavailable, attempts: 1, code: codes.Unavailable},
		{name: "zero attempts means one", opts: []sdk.Option{sdk.WithRetry(0, time.Millisecond)}, failAll: unavailable, attempts: 1, code: codes.Unavailable},
		{name: "unavailable then invalid", opts: []sdk.Option{sdk.WithRetry(5, time.Millisecond)}, fail: []error{unavailable, status.Error(codes.InvalidArgument, "bad")}, attempts: 2, code: codes.InvalidArgument},
	}
	for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.Internal, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Unauthenticated, codes.PermissionDenied, codes.Aborted, codes.Unknown, codes.Unimplemented, codes.FailedPrecondition, codes.DataLoss} {
		tests = append(tests, struct {
			name     string
			opts     []sdk.Option
			fail     []error
			failAll  error
			attempts int64
			code     codes.Code
		}{name: "never on " + c.String(), opts: []sdk.Option{sdk.WithRetry(5, time.Millisecond)}, failAll: status.Error(c, "no"), attempts: 1, code: c})
	}
	for _, rpc := range calls {
		for _, tt := range tests {
			t.Run(rpc.name+"/"+tt.name, func(t *testing.T) {
				f := &fakeServer{fail: tt.fail, failAll: tt.failAll}
				addr, _ := startFake(t, f)
				c := dialFake(t, addr, tt.opts...)
				err := rpc.call(t.Context(), c)
				if got := status.Code(err); got != tt.code {
					t.Errorf("code %v (%v), want %v", got, err, tt.code)
				}
				if got := f.calls.Load(); got != tt.attempts {
					t.Errorf("%d attempts, want %d", got, tt.attempts)
				}
			})
		}
	}
}

// TestRetryGivesUpAtDeadline checks that backing off never outlives the
// call's context.
func TestRetryGivesUpAtDeadline(t *testing.T) {
	f := &fakeServer{failAll: status.Error(codes.Unavailable, "down")}
	addr, _ := startFake(t, f)
	c := dialFake(t, addr, sdk.WithRetry(1000, 20*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GetOnlineFeatures(ctx, oneDriver)
	code := status.Code(err)
	if code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Errorf("code %v (%v), want Unavailable or DeadlineExceeded", code, err)
	}
	if n := f.calls.Load(); n >= 1000 {
		t.Errorf("%d attempts: retries went on past the deadline", n)
	}
	// DEADLINE_EXCEEDED may come from gRPC's own timer (the server's copy of
	// the deadline, on a loaded machine) a moment before ctx's: that too is
	// giving up at the deadline.
	if ctx.Err() == nil && code != codes.DeadlineExceeded {
		t.Errorf("the call returned %v before its context ended, with attempts left", err)
	}
}

// TestDeadline checks the deadline the server sees.
func TestDeadline(t *testing.T) {
	tests := []struct {
		name     string
		opts     []sdk.Option
		ctx      func(context.Context) (context.Context, context.CancelFunc)
		min, max time.Duration // the remaining time the server sees; -1: no deadline
	}{
		{name: "default 1s", min: 1, max: time.Second},
		{name: "WithTimeout", opts: []sdk.Option{sdk.WithTimeout(time.Hour)}, min: time.Second, max: time.Hour},
		{name: "WithTimeout(0): none", opts: []sdk.Option{sdk.WithTimeout(0)}, min: -1, max: -1},
		{
			name: "the context's own deadline is kept",
			ctx: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(ctx, time.Hour)
			},
			min: time.Second, max: time.Hour,
		},
	}
	for _, rpc := range calls {
		for _, tt := range tests {
			t.Run(rpc.name+"/"+tt.name, func(t *testing.T) {
				f := &fakeServer{}
				addr, _ := startFake(t, f)
				c := dialFake(t, addr, tt.opts...)
				ctx := t.Context()
				if tt.ctx != nil {
					var cancel context.CancelFunc
					ctx, cancel = tt.ctx(ctx)
					defer cancel()
				}
				if err := rpc.call(ctx, c); err != nil {
					t.Fatal(err)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.deadline < tt.min || f.deadline > tt.max {
					t.Errorf("server saw %v left, want within [%v, %v] (-1: no deadline)", f.deadline, tt.min, tt.max)
				}
			})
		}
	}
}

// TestToken checks the bearer token metadata.
func TestToken(t *testing.T) {
	for _, rpc := range calls {
		t.Run(rpc.name, func(t *testing.T) {
			f := &fakeServer{}
			addr, _ := startFake(t, f)
			if err := rpc.call(t.Context(), dialFake(t, addr, sdk.WithToken("s3cret"))); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			got := f.md.Get("authorization")
			f.mu.Unlock()
			if !slices.Equal(got, []string{"Bearer s3cret"}) {
				t.Errorf("authorization %q, want [Bearer s3cret]", got)
			}
			if err := rpc.call(t.Context(), dialFake(t, addr)); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			got = f.md.Get("authorization")
			f.mu.Unlock()
			if len(got) != 0 {
				t.Errorf("authorization %q sent without WithToken", got)
			}
		})
	}
}

// TestConnectionReuse checks that one client keeps one connection for
// sequential and concurrent calls.
func TestConnectionReuse(t *testing.T) {
	f := &fakeServer{}
	addr, lis := startFake(t, f)
	c := dialFake(t, addr)
	for range 10 {
		if _, err := c.GetOnlineFeatures(t.Context(), oneDriver); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Push(t.Context(), "src", map[string][]any{"driver_id": {1}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := lis.accepted.Load(); n != 1 {
		t.Errorf("%d connections for 30 calls of one client, want 1", n)
	}
}

// TestRequests checks what the client sends for queries and pushes.
func TestRequests(t *testing.T) {
	f := &fakeServer{}
	addr, _ := startFake(t, f)
	c := dialFake(t, addr)
	ts := time.Date(2026, 5, 1, 12, 0, 0, 123_000_000, time.UTC)

	t.Run("feature service", func(t *testing.T) {
		_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{
			FeatureService: "svc",
			Entities:       sdk.Entities{"driver_id": {1001, int32(7), int64(9)}, "city": {"paris", "lyon", "nice"}},
			FullNames:      true,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &almanacv1.GetOnlineFeaturesRequest{
			Kind: &almanacv1.GetOnlineFeaturesRequest_FeatureService{FeatureService: "svc"},
			Entities: map[string]*almanacv1.RepeatedValue{
				"driver_id": {Val: []*almanacv1.Value{mustValue(t, int64(1001)), mustValue(t, int32(7)), mustValue(t, int64(9))}},
				"city":      {Val: []*almanacv1.Value{mustValue(t, "paris"), mustValue(t, "lyon"), mustValue(t, "nice")}},
			},
			FullFeatureNames: true,
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if !proto.Equal(f.lookup, want) {
			t.Errorf("request\n%v\nwant\n%v", f.lookup, want)
		}
	})
	t.Run("features", func(t *testing.T) {
		_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Features: []string{"v:a", "w"}, Entities: sdk.Entities{"k": {[]byte("x")}}})
		if err != nil {
			t.Fatal(err)
		}
		want := &almanacv1.GetOnlineFeaturesRequest{
			Kind:     &almanacv1.GetOnlineFeaturesRequest_Features{Features: &almanacv1.FeatureList{Val: []string{"v:a", "w"}}},
			Entities: map[string]*almanacv1.RepeatedValue{"k": {Val: []*almanacv1.Value{mustValue(t, []byte("x"))}}},
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if !proto.Equal(f.lookup, want) {
			t.Errorf("request\n%v\nwant\n%v", f.lookup, want)
		}
	})
	t.Run("push", func(t *testing.T) {
		n, err := c.Push(t.Context(), "src", map[string][]any{"id": {1, 2}, "ts": {ts, ts}, "emb": {[]float32{1, 2}, nil}})
		if err != nil || n != 2 {
			t.Fatalf("push: %d, %v", n, err)
		}
		want := &almanacv1.PushRequest{Source: "src", Columns: map[string]*almanacv1.RepeatedValue{
			"id":  {Val: []*almanacv1.Value{mustValue(t, int64(1)), mustValue(t, int64(2))}},
			"ts":  {Val: []*almanacv1.Value{{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: ts.UnixMilli()}}, {Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: ts.UnixMilli()}}}},
			"emb": {Val: []*almanacv1.Value{{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{1, 2}}}}, {}}},
		}}
		f.mu.Lock()
		defer f.mu.Unlock()
		if !proto.Equal(f.push, want) {
			t.Errorf("request\n%v\nwant\n%v", f.push, want)
		}
	})

	t.Run("refused before sending", func(t *testing.T) {
		before := f.calls.Load()
		tests := []struct {
			name     string
			call     func() error
			mentions []string
		}{
			{"service and features", func() error {
				_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "s", Features: []string{"v"}, Entities: sdk.Entities{"k": {1}}})
				return err
			}, []string{"FeatureService", "Features"}},
			{"neither", func() error {
				_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{Entities: sdk.Entities{"k": {1}}})
				return err
			}, []string{"FeatureService", "Features"}},
			{"unsupported entity value", func() error {
				_, err := c.GetOnlineFeatures(t.Context(), sdk.Query{FeatureService: "s", Entities: sdk.Entities{"k": {1, struct{}{}}}})
				return err
			}, []string{`"k"`, "row 1", "struct"}},
			{"unsupported push value", func() error {
				_, err := c.Push(t.Context(), "src", map[string][]any{"c": {uint(1)}})
				return err
			}, []string{`"c"`, "row 0", "uint"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call()
				if err == nil {
					t.Fatal("no error")
				}
				for _, m := range tt.mentions {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("%v does not mention %q", err, m)
					}
				}
			})
		}
		if n := f.calls.Load() - before; n != 0 {
			t.Errorf("%d invalid calls reached the server", n)
		}
	})
}

func mustValue(t *testing.T, v any) *almanacv1.Value {
	t.Helper()
	pv, err := sdk.ValueOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

// TestValueOf checks every Go type the SDK converts, and a few it refuses.
func TestValueOf(t *testing.T) {
	ts := time.Date(2026, 5, 1, 12, 0, 0, 123_456_789, time.UTC)
	tests := []struct {
		in   any
		want *almanacv1.Value
	}{
		{nil, &almanacv1.Value{}},
		{7, &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: 7}}},
		{math.MaxInt64, &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: math.MaxInt64}}},
		{int32(-7), &almanacv1.Value{Val: &almanacv1.Value_Int32Val{Int32Val: -7}}},
		{int64(-7), &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: -7}}},
		{float32(0.5), &almanacv1.Value{Val: &almanacv1.Value_FloatVal{FloatVal: 0.5}}},
		{0.25, &almanacv1.Value{Val: &almanacv1.Value_DoubleVal{DoubleVal: 0.25}}},
		{true, &almanacv1.Value{Val: &almanacv1.Value_BoolVal{BoolVal: true}}},
		{"s", &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: "s"}}},
		{"", &almanacv1.Value{Val: &almanacv1.Value_StringVal{StringVal: ""}}},
		{[]byte{0, 1}, &almanacv1.Value{Val: &almanacv1.Value_BytesVal{BytesVal: []byte{0, 1}}}},
		{ts, &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampVal{UnixTimestampVal: ts.UnixMilli()}}},
		{[]int32{1, 2}, &almanacv1.Value{Val: &almanacv1.Value_Int32ListVal{Int32ListVal: &almanacv1.Int32List{Val: []int32{1, 2}}}}},
		{[]int64{1, 2}, &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: []int64{1, 2}}}}},
		{[]int{1, 2}, &almanacv1.Value{Val: &almanacv1.Value_Int64ListVal{Int64ListVal: &almanacv1.Int64List{Val: []int64{1, 2}}}}},
		{[]float32{0.5}, &almanacv1.Value{Val: &almanacv1.Value_FloatListVal{FloatListVal: &almanacv1.FloatList{Val: []float32{0.5}}}}},
		{[]float64{0.5}, &almanacv1.Value{Val: &almanacv1.Value_DoubleListVal{DoubleListVal: &almanacv1.DoubleList{Val: []float64{0.5}}}}},
		{[]bool{true, false}, &almanacv1.Value{Val: &almanacv1.Value_BoolListVal{BoolListVal: &almanacv1.BoolList{Val: []bool{true, false}}}}},
		{[]string{"a", "b"}, &almanacv1.Value{Val: &almanacv1.Value_StringListVal{StringListVal: &almanacv1.StringList{Val: []string{"a", "b"}}}}},
		{[][]byte{{1}, {2}}, &almanacv1.Value{Val: &almanacv1.Value_BytesListVal{BytesListVal: &almanacv1.BytesList{Val: [][]byte{{1}, {2}}}}}},
		{[]time.Time{ts}, &almanacv1.Value{Val: &almanacv1.Value_UnixTimestampListVal{UnixTimestampListVal: &almanacv1.Int64List{Val: []int64{ts.UnixMilli()}}}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.in), func(t *testing.T) {
			got, err := sdk.ValueOf(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("ValueOf(%#v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	for _, in := range []any{uint(1), int8(1), struct{}{}, map[string]int{}, []any{1}, &ts} {
		t.Run(fmt.Sprintf("refuses %T", in), func(t *testing.T) {
			if got, err := sdk.ValueOf(in); err == nil {
				t.Errorf("ValueOf(%#v) = %v, want an error", in, got)
			} else if !strings.Contains(err.Error(), fmt.Sprintf("%T", in)) {
				t.Errorf("error %q does not name the type %T", err, in)
			}
		})
	}
}

// allTypes is a response of one row per entity with a column of every
// type: row 0 PRESENT values, row 1 other statuses.
func allTypes(at time.Time) *almanacv1.GetOnlineFeaturesResponse {
	ts := timestamppb.New(at)
	zero := &timestamppb.Timestamp{}
	null := &almanacv1.Value{}
	col := func(v *almanacv1.Value, second almanacv1.FieldStatus) *almanacv1.GetOnlineFeaturesResponse_FeatureVector {
		secondTS := ts
		if second == sdk.NotFound {
			secondTS = zero
		}
		return &almanacv1.GetOnlineFeaturesResponse_FeatureVector{
			Values:          []*almanacv1.Value{v, null},
			Statuses:        []almanacv1.FieldStatus{sdk.Present, second},
			EventTimestamps: []*timestamppb.Timestamp{ts, secondTS},
		}
	}
	val := func(x any) *almanacv1.Value {
		v, err := sdk.ValueOf(x)
		if err != nil {
			panic(err)
		}
		return v
	}
	names := []string{"driver_id", "f64", "f32", "i64", "i32", "str", "flag", "raw", "when", "emb", "f64s", "i64s", "strs", "i32s"}
	return &almanacv1.GetOnlineFeaturesResponse{
		Metadata: &almanacv1.GetOnlineFeaturesResponse_Metadata{FeatureNames: &almanacv1.FeatureList{Val: names}},
		Results: []*almanacv1.GetOnlineFeaturesResponse_FeatureVector{
			{
				Values:          []*almanacv1.Value{val(int64(1001)), val(int64(1002))},
				Statuses:        []almanacv1.FieldStatus{sdk.Present, sdk.Present},
				EventTimestamps: []*timestamppb.Timestamp{zero, zero},
			},
			col(val(0.5), sdk.NullValue),
			col(val(float32(0.25)), sdk.NotFound),
			col(val(int64(1)<<40), sdk.OutsideMaxAge),
			col(val(int32(-3)), sdk.NullValue),
			col(val("gold"), sdk.NotFound),
			col(val(true), sdk.NullValue),
			col(val([]byte{9, 8}), sdk.NullValue),
			col(val(at.Add(-time.Hour)), sdk.NullValue),
			col(val([]float32{0.1, 0.2}), sdk.NotFound),
			col(val([]float64{1.5}), sdk.NullValue),
			col(val([]int64{4, 5}), sdk.NullValue),
			col(val([]string{"a"}), sdk.NullValue),
			col(val([]int32{7}), sdk.NotFound),
		},
	}
}

// TestResult checks the typed getters, Cell, Rows and the metadata of a
// result holding every type and status.
func TestResult(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeServer{resp: allTypes(at)}
	addr, _ := startFake(t, f)
	res, err := dialFake(t, addr).GetOnlineFeatures(t.Context(), oneDriver)
	if err != nil {
		t.Fatal(err)
	}
	if res.Len() != 2 {
		t.Fatalf("Len %d, want 2", res.Len())
	}
	if got, want := res.Names(), f.resp.GetMetadata().GetFeatureNames().GetVal(); !slices.Equal(got, want) {
		t.Errorf("Names %q, want %q", got, want)
	}
	if !proto.Equal(res.Response(), f.resp) {
		t.Error("Response differs from what the server sent")
	}

	cellOf := func(c sdk.Cell, err error) read { return read{c, c.Status, err} }
	checkGetters(t, []getterCase{
		{name: "Int64 driver_id", got: readOf(res.Int64(1, "driver_id")), value: int64(1002), st: sdk.Present},
		{name: "Float64 f64", got: readOf(res.Float64(0, "f64")), value: 0.5, st: sdk.Present},
		{name: "Float64 f32 widens", got: readOf(res.Float64(0, "f32")), value: 0.25, st: sdk.Present},
		{name: "Float32 f32", got: readOf(res.Float32(0, "f32")), value: float32(0.25), st: sdk.Present},
		{name: "Int64 i64", got: readOf(res.Int64(0, "i64")), value: int64(1) << 40, st: sdk.Present},
		{name: "Int64 i32 widens", got: readOf(res.Int64(0, "i32")), value: int64(-3), st: sdk.Present},
		{name: "Int32 i32", got: readOf(res.Int32(0, "i32")), value: int32(-3), st: sdk.Present},
		{name: "String", got: readOf(res.String(0, "str")), value: "gold", st: sdk.Present},
		{name: "Bool", got: readOf(res.Bool(0, "flag")), value: true, st: sdk.Present},
		{name: "Bytes", got: readOf(res.Bytes(0, "raw")), value: []byte{9, 8}, st: sdk.Present},
		{name: "Time", got: readOf(res.Time(0, "when")), value: at.Add(-time.Hour), st: sdk.Present},
		{name: "Float32s", got: readOf(res.Float32s(0, "emb")), value: []float32{0.1, 0.2}, st: sdk.Present},
		{name: "Float64s", got: readOf(res.Float64s(0, "f64s")), value: []float64{1.5}, st: sdk.Present},
		{name: "Int64s", got: readOf(res.Int64s(0, "i64s")), value: []int64{4, 5}, st: sdk.Present},
		{name: "Strings", got: readOf(res.Strings(0, "strs")), value: []string{"a"}, st: sdk.Present},

		// Row 1: zero values with the server's statuses, and no error.
		{name: "Float64 null", got: readOf(res.Float64(1, "f64")), value: 0.0, st: sdk.NullValue},
		{name: "Float32 not found", got: readOf(res.Float32(1, "f32")), value: float32(0), st: sdk.NotFound},
		{name: "Int64 outside max age", got: readOf(res.Int64(1, "i64")), value: int64(0), st: sdk.OutsideMaxAge},
		{name: "String not found", got: readOf(res.String(1, "str")), value: "", st: sdk.NotFound},
		{name: "Time null", got: readOf(res.Time(1, "when")), value: time.Time{}, st: sdk.NullValue},
		{name: "Float32s not found", got: readOf(res.Float32s(1, "emb")), value: []float32(nil), st: sdk.NotFound},

		// A getter of another type, an unknown name or a row out of range
		// is an error naming the mistake, whatever the cell's status.
		{name: "Float64 of int64", got: readOf(res.Float64(0, "i64")), is: sdk.ErrType, msg: `sdk: Float64(0, "i64"): wrong type: i64 is int64; use Int64`},
		{name: "Float64 of int32", got: readOf(res.Float64(0, "i32")), is: sdk.ErrType, msg: "i32 is int32; use Int32"},
		{name: "Int64 of float64", got: readOf(res.Int64(0, "f64")), is: sdk.ErrType, msg: "f64 is float64; use Float64"},
		{name: "Int64 of timestamp", got: readOf(res.Int64(0, "when")), is: sdk.ErrType, msg: "when is timestamp; use Time"},
		{name: "Float32 of float64 narrows", got: readOf(res.Float32(0, "f64")), is: sdk.ErrType, msg: "f64 is float64; use Float64"},
		{name: "Int32 of int64 narrows", got: readOf(res.Int32(0, "i64")), is: sdk.ErrType, msg: "i64 is int64; use Int64"},
		{name: "String of bytes", got: readOf(res.String(0, "raw")), is: sdk.ErrType, msg: "raw is bytes; use Bytes"},
		{name: "Bool of string", got: readOf(res.Bool(0, "str")), is: sdk.ErrType, msg: "str is string; use String"},
		{name: "Bytes of string", got: readOf(res.Bytes(0, "str")), is: sdk.ErrType, msg: "str is string; use String"},
		{name: "Time of int64", got: readOf(res.Time(0, "i64")), is: sdk.ErrType, msg: "i64 is int64; use Int64"},
		{name: "Float64s of list<float32>", got: readOf(res.Float64s(0, "emb")), is: sdk.ErrType, msg: "emb is list<float32>; use Float32s"},
		{name: "Int64s of list<string>", got: readOf(res.Int64s(0, "strs")), is: sdk.ErrType, msg: "strs is list<string>; use Strings"},
		{name: "Strings of list<int64>", got: readOf(res.Strings(0, "i64s")), is: sdk.ErrType, msg: "i64s is list<int64>; use Int64s"},
		{name: "Float64 of a list", got: readOf(res.Float64(0, "f64s")), is: sdk.ErrType, msg: "f64s is list<float64>; use Float64s"},
		{name: "Int64s of list<int32>, which only Cell reads", got: readOf(res.Int64s(0, "i32s")), is: sdk.ErrType, msg: "i32s is list<int32>; use Cell"},
		{name: "Int64 of a null float64", got: readOf(res.Int64(1, "f64")), is: sdk.ErrType, msg: "f64 is float64; use Float64"},
		{name: "Float64 of a NOT_FOUND int64", got: readOf(res.Float64(1, "i64")), is: sdk.ErrType, msg: "i64 is int64; use Int64"},
		{name: "misspelt name", got: readOf(res.Float64(0, "f46")), is: sdk.ErrUnknownFeature, msg: `sdk: Float64(0, "f46"): unknown feature; did you mean "f64"?`},
		{name: "unknown name", got: readOf(res.String(0, "price")), is: sdk.ErrUnknownFeature, msg: `sdk: String(0, "price"): unknown feature`},
		{name: "long unknown name is clipped", got: readOf(res.String(0, strings.Repeat("x", 200))), is: sdk.ErrUnknownFeature, msg: "…(200 bytes)"},
		{name: "row past the end", got: readOf(res.Float64(2, "f64")), is: sdk.ErrRowOutOfRange, msg: `sdk: Float64(2, "f64"): row out of range: the result has 2 rows`},
		{name: "negative row", got: readOf(res.Float64(-1, "f64")), is: sdk.ErrRowOutOfRange, msg: "row out of range"},
		{name: "Cell of an unknown name", got: cellOf(res.Cell(0, "drive_id")), is: sdk.ErrUnknownFeature, msg: `did you mean "driver_id"?`},
		{name: "Cell past the end", got: cellOf(res.Cell(2, "driver_id")), is: sdk.ErrRowOutOfRange, msg: "row out of range"},
	})

	for _, tt := range []struct {
		row  int
		name string
		want sdk.Cell
	}{
		{0, "f64", sdk.Cell{Value: 0.5, Status: sdk.Present, EventTime: at}},
		{1, "f64", sdk.Cell{Status: sdk.NullValue, EventTime: at}},
		{1, "i64", sdk.Cell{Status: sdk.OutsideMaxAge, EventTime: at}},
		{1, "f32", sdk.Cell{Status: sdk.NotFound}},
		{0, "driver_id", sdk.Cell{Value: int64(1001), Status: sdk.Present}},
		{0, "i64s", sdk.Cell{Value: []int64{4, 5}, Status: sdk.Present, EventTime: at}},
		{0, "i32s", sdk.Cell{Value: []int32{7}, Status: sdk.Present, EventTime: at}},
	} {
		got, err := res.Cell(tt.row, tt.name)
		if err != nil {
			t.Errorf("Cell(%d, %s): %v", tt.row, tt.name, err)
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
			t.Errorf("Cell(%d, %s) = %#v, want %#v", tt.row, tt.name, got, tt.want)
		}
	}

	rows := res.Rows()
	cell := func(v any) sdk.Cell { return sdk.Cell{Value: v, Status: sdk.Present, EventTime: at} }
	none := func(st sdk.Status) sdk.Cell { return sdk.Cell{Status: st, EventTime: at} }
	key := func(id int64) sdk.Cell { return sdk.Cell{Value: id, Status: sdk.Present} }
	want := []map[string]sdk.Cell{
		{"driver_id": key(1001), "f64": cell(0.5), "f32": cell(float32(0.25)), "i64": cell(int64(1) << 40), "i32": cell(int32(-3)), "str": cell("gold"), "flag": cell(true),
			"raw": cell([]byte{9, 8}), "when": cell(at.Add(-time.Hour)), "emb": cell([]float32{0.1, 0.2}), "f64s": cell([]float64{1.5}), "i64s": cell([]int64{4, 5}), "strs": cell([]string{"a"}), "i32s": cell([]int32{7})},
		{"driver_id": key(1002), "f64": none(sdk.NullValue), "f32": {Status: sdk.NotFound}, "i64": none(sdk.OutsideMaxAge), "i32": none(sdk.NullValue), "str": {Status: sdk.NotFound}, "flag": none(sdk.NullValue),
			"raw": none(sdk.NullValue), "when": none(sdk.NullValue), "emb": {Status: sdk.NotFound}, "f64s": none(sdk.NullValue), "i64s": none(sdk.NullValue), "strs": none(sdk.NullValue), "i32s": {Status: sdk.NotFound}},
	}
	if len(rows) != len(want) {
		t.Fatalf("Rows: %d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		if got, w := fmt.Sprintf("%#v", rows[i]), fmt.Sprintf("%#v", want[i]); got != w {
			t.Errorf("Rows()[%d] =\n%s\nwant\n%s", i, got, w)
		}
	}
	if got, want := fmt.Sprint(rows[1]["f64"], " ", rows[0]["f64"]), "<NULL_VALUE> 0.5"; got != want {
		t.Errorf("cells print as %q, want %q", got, want)
	}
}

// TestMalformedResponse checks that a response whose columns do not match
// (a broken or foreign server) never makes the client panic.
func TestMalformedResponse(t *testing.T) {
	ragged := &almanacv1.GetOnlineFeaturesResponse{
		Metadata: &almanacv1.GetOnlineFeaturesResponse_Metadata{FeatureNames: &almanacv1.FeatureList{Val: []string{"driver_id", "a", "b"}}},
		Results: []*almanacv1.GetOnlineFeaturesResponse_FeatureVector{
			{Values: []*almanacv1.Value{{}, {}}, Statuses: []almanacv1.FieldStatus{sdk.Present, sdk.Present}},
			{Values: []*almanacv1.Value{{}}, Statuses: []almanacv1.FieldStatus{sdk.Present}},
		},
	}
	f := &fakeServer{resp: ragged}
	addr, _ := startFake(t, f)
	res, err := dialFake(t, addr).GetOnlineFeatures(t.Context(), oneDriver)
	if err != nil {
		return // refusing the response is fine
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("reading a malformed response panicked: %v", r)
		}
	}()
	for row := range 3 {
		for _, name := range []string{"driver_id", "a", "b"} {
			res.Cell(row, name)
			res.Float64(row, name)
		}
	}
	res.Rows()
}

// TestUnreachable checks that a server that is not there gives UNAVAILABLE
// after the configured attempts, not a hang.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := dialFake(t, addr, sdk.WithRetry(2, time.Millisecond), sdk.WithTimeout(time.Minute))
	_, err = c.GetOnlineFeatures(t.Context(), oneDriver)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("%v, want UNAVAILABLE", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v: waited for the deadline", err)
	}
}
