package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/almanac-fs/almanac/internal/servertest"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/sdk"
)

// backends are the online stores every end-to-end table runs against.
var backends = []servertest.Backend{servertest.Local, servertest.Redis}

// dial returns an SDK client of env that does not retry, closed when the
// test ends.
func dial(t *testing.T, addr string, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	c, err := sdk.Dial(addr, append([]sdk.Option{sdk.WithRetry(1, 0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawClient returns a plain gRPC client of addr, for requests the SDK
// cannot make.
func rawClient(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// checkStatus fails unless err has code want and a message holding every
// one of mentions.
func checkStatus(t *testing.T, err error, want codes.Code, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	st, _ := status.FromError(err)
	if got := st.Code(); got != want {
		t.Fatalf("code %v (%.300q), want %v", got, st.Message(), want)
	}
	for _, m := range mentions {
		if !strings.Contains(st.Message(), m) {
			t.Errorf("message %.300q does not mention %q", st.Message(), m)
		}
	}
}

// drivers returns entity columns of driver ids.
func drivers(ids ...int64) sdk.Entities {
	col := make([]any, len(ids))
	for i, id := range ids {
		col[i] = id
	}
	return sdk.Entities{"driver_id": col}
}

// metadataContext returns the test's context with outgoing gRPC metadata.
func metadataContext(t *testing.T, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(t.Context(), kv...)
}

func int64Val(v int64) *almanacv1.Value {
	return &almanacv1.Value{Val: &almanacv1.Value_Int64Val{Int64Val: v}}
}

// scrape returns the samples of env's /metrics: series (name and sorted
// labels, as exposed) to value.
func scrape(t *testing.T, env *servertest.Env) map[string]float64 {
	t.Helper()
	body, code := get(t, env.HTTPURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: status %d: %s", code, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series renders a series as the text exposition format does: labels in
// name order.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name + "{")
	for i := 0; i < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteString("}")
	return b.String()
}

// get fetches url and returns its body and status code.
func get(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}

// eventually polls cond until it holds, failing the test if it still does
// not after a long while. It waits for things that happen after a response
// (metrics recorded by an interceptor, a reload loop's tick), never to
// measure speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gateStore is an online store whose reads wait, once they have started,
// until the gate opens or their context ends. It counts reads.
type gateStore struct {
	online.Store
	entered chan struct{} // receives once per read that reached the gate
	gate    chan struct{} // closed to let reads through
	open    sync.Once
	reads   atomic.Int64
}

func newGateStore(s online.Store) *gateStore {
	return &gateStore{Store: s, entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (g *gateStore) Read(ctx context.Context, lookups []online.Lookup) ([]online.Record, error) {
	g.reads.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, fmt.Errorf("read held at the gate: %w", ctx.Err())
	}
	return g.Store.Read(ctx, lookups)
}

func (g *gateStore) release() { g.open.Do(func() { close(g.gate) }) }

// countingStore counts the reads and writes that reach an online store.
type countingStore struct {
	online.Store
	reads, writes atomic.Int64
}

func (c *countingStore) Read(ctx context.Context, lookups []online.Lookup) ([]online.Record, error) {
	c.reads.Add(1)
	return c.Store.Read(ctx, lookups)
}

func (c *countingStore) Write(ctx context.Context, view online.View, rows []online.Row) error {
	c.writes.Add(1)
	return c.Store.Write(ctx, view, rows)
}
