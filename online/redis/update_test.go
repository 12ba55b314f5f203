package redis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/internal/redistest"
	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

func entity(id int64) []*almanacv1.Value {
	return []*almanacv1.Value{{Val: &almanacv1.Value_Int64Val{Int64Val: id}}}
}

// TestUpdateContended checks that Update tries again only the keys another
// writer changed between its read and its write, and gives up on a key it
// changes every time with an error wrapping online.ErrContended, having set
// the others.
func TestUpdateContended(t *testing.T) {
	srv := redistest.Start(t)
	raw := rawClient(t, srv.Addr())
	s := newStore(t, Options{Addrs: []string{srv.Addr()}, KeyPrefix: "contended:"})
	view := online.View{Name: "tiles"}
	calls := make([]int, 2)
	err := s.Update(t.Context(), view, [][]*almanacv1.Value{entity(1), entity(2)}, func(i int, old string) (string, error) {
		calls[i]++
		if i == 0 {
			// Another writer, between this Update's read and its write.
			if err := raw.Set(t.Context(), "contended:{i1:1}:tiles", fmt.Sprint("other-", calls[i]), 0).Err(); err != nil {
				return "", err
			}
		}
		return old + "+", nil
	})
	if !errors.Is(err, online.ErrContended) || !errors.Is(err, online.ErrUnavailable) || !strings.Contains(err.Error(), `key "contended:{i1:1}:tiles"`) {
		t.Errorf("got error %v, want ErrContended (and so ErrUnavailable) naming the key", err)
	}
	if got, want := calls, []int{updateAttempts, 1}; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got fn called %v times per key, want %v", got, want)
	}
	got, err := raw.MGet(t.Context(), "contended:{i1:1}:tiles", "contended:{i1:2}:tiles").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{fmt.Sprint("other-", updateAttempts), "+"}; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got records %q, want %q", got, want)
	}
}

// TestUpdateKeyLayout checks that Update stores records under the keys of
// Write, without expiry where Write set one, and loads its script on a
// server that does not have it.
func TestUpdateKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	raw := rawClient(t, srv.Addr())
	s := newStore(t, Options{Addrs: []string{srv.Addr()}, Project: "rides"})
	view := online.View{Name: "trips", TTL: time.Hour}
	// The first Update loads the script; then Redis forgets it.
	for _, flush := range []bool{false, true} {
		if flush {
			if err := raw.ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Write(t.Context(), view, []online.Row{{Key: entity(1001), EventTime: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(t.Context(), view, [][]*almanacv1.Value{entity(1001)}, func(int, string) (string, error) { return "tiles", nil }); err != nil {
			t.Fatalf("update (script flushed: %t): %v", flush, err)
		}
		const key = "almanac:rides:{i4:1001}:trips"
		if got, err := raw.Get(t.Context(), key).Result(); err != nil || got != "tiles" {
			t.Errorf("%s: got %q, %v, want %q", key, got, err, "tiles")
		}
		if got, err := raw.PExpireTime(t.Context(), key).Result(); err != nil || got != -1 {
			t.Errorf("%s: got PEXPIRETIME %v, %v, want -1: no expiry", key, got, err)
		}
	}
}

func TestUpdateDown(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addrs: []string{srv.Addr()}})
	srv.Stop()
	err := s.Update(t.Context(), online.View{Name: "tiles"}, [][]*almanacv1.Value{entity(1)}, func(int, string) (string, error) { return "x", nil })
	if !errors.Is(err, online.ErrUnavailable) {
		t.Errorf("update while down: got error %v, want ErrUnavailable", err)
	}
}
