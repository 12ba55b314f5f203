package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"

	"github.com/almanac-fs/almanac/bench/internal/machine"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// caller sends one lookup and waits for its response.
type caller func(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) error

// almanacCaller calls Almanac's GetOnlineFeatures through the generated
// client, not the SDK. Unless decode is set, the response is received but
// not unmarshaled (see discardReplies).
func almanacCaller(conn *grpc.ClientConn, decode bool) caller {
	client := almanacv1.NewFeatureServerClient(conn)
	opts := callOptions(decode)
	return func(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) error {
		_, err := client.GetOnlineFeatures(ctx, req, opts...)
		return err
	}
}

// floorCaller calls the floor server's one method, the same way.
func floorCaller(conn *grpc.ClientConn, decode bool) caller {
	opts := callOptions(decode)
	return func(ctx context.Context, req *almanacv1.GetOnlineFeaturesRequest) error {
		return conn.Invoke(ctx, floorMethod, req, new(almanacv1.BytesList), opts...)
	}
}

func callOptions(decode bool) []grpc.CallOption {
	if decode {
		return nil
	}
	return []grpc.CallOption{grpc.ForceCodecV2(discardReplies{encoding.GetCodecV2(grpcproto.Name)})}
}

// discardReplies is gRPC's protobuf codec for requests, but leaves
// responses undecoded: the load generator shares the machine's cores with
// the servers, and unmarshaling Almanac's typed response (a Value and a
// Timestamp per feature and entity) would take cores from the server it
// measures, where the floor's blobs cost next to nothing to receive. A
// client would decode the floor's blobs too; neither is the server's work.
type discardReplies struct{ proto encoding.CodecV2 }

func (c discardReplies) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }
func (discardReplies) Unmarshal(mem.BufferSlice, any) error     { return nil }
func (discardReplies) Name() string                             { return grpcproto.Name }

// requestPool returns n lookups of perRequest random entities each, out of
// entities, the same for every server of a run.
func requestPool(n, perRequest int, entities int64, seed uint64) []*almanacv1.GetOnlineFeaturesRequest {
	rng := rand.New(rand.NewPCG(seed, uint64(perRequest)))
	pool := make([]*almanacv1.GetOnlineFeaturesRequest, n)
	ids := make([]int64, perRequest)
	for i := range pool {
		for j := range ids {
			ids[j] = rng.Int64N(entities)
		}
		pool[i] = lookupRequest(ids)
	}
	return pool
}

// phase is what one run of closed-loop clients measured.
type phase struct {
	latencies []time.Duration // sorted
	elapsed   time.Duration   // from the start to the last response
}

// closedLoop runs clients goroutines, each sending a request drawn from pool
// as soon as the previous one is answered, for dur. Requests started within
// dur count; the first error stops the run.
func closedLoop(ctx context.Context, call caller, pool []*almanacv1.GetOnlineFeaturesRequest, clients int, dur time.Duration, seed uint64) (phase, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	end := start.Add(dur)
	perClient := make([][]time.Duration, clients)
	lastDone := make([]time.Time, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			lats := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err := call(ctx, pool[rng.IntN(len(pool))]); err != nil {
					cancel(fmt.Errorf("request failed: %w", err))
					break
				}
				done := time.Now()
				lats = append(lats, done.Sub(t0))
				lastDone[c] = done
			}
			perClient[c] = lats
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return phase{}, err
	}
	var p phase
	for c, lats := range perClient {
		p.latencies = append(p.latencies, lats...)
		p.elapsed = max(p.elapsed, lastDone[c].Sub(start))
	}
	slices.Sort(p.latencies)
	return p, nil
}

// usage is the CPU time of the processes sharing the machine's cores.
type usage struct {
	server, redis, loadgen time.Duration
}

func readUsage(serverPID, redisPID int) (usage, error) {
	var u usage
	var err error
	if u.server, err = machine.ProcessCPU(serverPID); err != nil {
		return u, err
	}
	if u.redis, err = machine.ProcessCPU(redisPID); err != nil {
		return u, err
	}
	u.loadgen, err = machine.ProcessCPU(os.Getpid())
	return u, err
}

func (u usage) sub(v usage) usage {
	return usage{server: u.server - v.server, redis: u.redis - v.redis, loadgen: u.loadgen - v.loadgen}
}

// sampleRSS records the highest resident set size of pid, read every 100 ms,
// until stop is closed, and then sends it.
func sampleRSS(pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := memory(pid); err == nil {
				peak = max(peak, m.RSS)
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}
