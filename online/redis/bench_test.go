package redis

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/redistest"
	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/onlinetest"
)

func BenchmarkRead(b *testing.B) {
	b.Run("backend=redis", func(b *testing.B) {
		srv := redistest.Start(b)
		onlinetest.BenchRead(b, newStore(b, Options{Addrs: []string{srv.Addr()}}), 100, 5)
	})
}

func BenchmarkUpdate(b *testing.B) {
	b.Run("backend=redis", func(b *testing.B) {
		srv := redistest.Start(b)
		onlinetest.BenchUpdate(b, newStore(b, Options{Addrs: []string{srv.Addr()}}), 10_000, 1024)
	})
}

// BenchmarkWrite measures Store.Write of 100,000 rows of a view with a TTL
// next to its baseline: pipelined SET ... PXAT of the same records, encoded
// beforehand, in batches of the same size, straight to the same Redis. Each
// iteration writes rows newer than the last, so that every row is stored.
func BenchmarkWrite(b *testing.B) {
	const n = 100_000
	b.Run(fmt.Sprintf("backend=redis/rows=%d", n), func(b *testing.B) {
		srv := redistest.Start(b)
		opts := DefaultOptions()
		opts.Addrs = []string{srv.Addr()}
		s := newStore(b, opts)
		raw := rawClient(b, srv.Addr())
		ctx := b.Context()

		view := onlinetest.BenchView("bench_write")
		view.TTL = 24 * time.Hour
		t0 := time.Now().Truncate(time.Millisecond)
		rows := make([]online.Row, n)
		for i := range rows {
			rows[i] = onlinetest.BenchRow(int64(i), t0)
		}
		// The baseline's keys and records, encoded as the store encodes them.
		codec := online.NewCodec(view)
		keys := make([]string, n)
		blobs := make([][]byte, n)
		expireAt := t0.Add(view.TTL).UnixMilli()
		for i, row := range rows {
			k, err := online.AppendStoreKey(nil, "baseline:", view.Name, row.Key)
			if err != nil {
				b.Fatal(err)
			}
			keys[i] = string(k)
			if blobs[i], err = codec.AppendRecord(nil, row.EventTime, row.Values); err != nil {
				b.Fatal(err)
			}
		}
		baseline := func() error {
			for start := 0; start < n; start += opts.WriteBatch {
				pipe := raw.Pipeline()
				for i := start; i < min(start+opts.WriteBatch, n); i++ {
					pipe.Do(ctx, "SET", keys[i], blobs[i], "PXAT", expireAt)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		}

		// Check the fixture: both write every row, the same bytes.
		if err := s.Write(ctx, *view, rows); err != nil {
			b.Fatal(err)
		}
		if err := baseline(); err != nil {
			b.Fatal(err)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			k, err := online.AppendStoreKey(nil, s.prefix, view.Name, rows[i].Key)
			if err != nil {
				b.Fatal(err)
			}
			got, err := raw.Get(ctx, string(k)).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			want, err := raw.Get(ctx, keys[i]).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				b.Fatalf("row %d: store wrote %x, baseline %x", i, got, want)
			}
		}

		var storeTime, baselineTime time.Duration
		b.ReportAllocs()
		iteration := 0
		for b.Loop() {
			iteration++
			at := t0.Add(time.Duration(iteration) * time.Millisecond)
			for i := range rows {
				rows[i].EventTime = at
			}
			start := time.Now()
			if err := s.Write(ctx, *view, rows); err != nil {
				b.Fatal(err)
			}
			storeTime += time.Since(start)
			start = time.Now()
			if err := baseline(); err != nil {
				b.Fatal(err)
			}
			baselineTime += time.Since(start)
		}
		total := float64(n * iteration)
		b.ReportMetric(total/storeTime.Seconds(), "store-rows/s")
		b.ReportMetric(total/baselineTime.Seconds(), "baseline-rows/s")
		b.ReportMetric(baselineTime.Seconds()/storeTime.Seconds(), "ratio")
	})
}
