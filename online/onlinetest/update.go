package onlinetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/online"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
)

// updater returns the store under test as an online.Updater.
func (h *harness) updater(t *testing.T) online.Updater {
	t.Helper()
	u, ok := h.Store.(online.Updater)
	if !ok {
		t.Fatalf("store %T is not an online.Updater", h.Store)
	}
	return u
}

// update updates keys of view with fn, failing t on error.
func (h *harness) update(t *testing.T, view *online.View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) {
	t.Helper()
	if err := h.updater(t).Update(h.ctx, *view, keys, fn); err != nil {
		t.Fatalf("update %d keys of view %q: %v", len(keys), view.Name, err)
	}
}

// readEncoded returns the record of each of ids in view, "" for none.
func (h *harness) readEncoded(t *testing.T, view *online.View, ids ...int64) []string {
	t.Helper()
	lookups := make([]online.Lookup, len(ids))
	for i, id := range ids {
		lookups[i] = online.Lookup{View: view, Key: key(i64(id))}
	}
	got, err := online.ReadEncoded(h.ctx, h.Store, lookups)
	if err != nil {
		t.Fatalf("read %d records of view %q: %v", len(ids), view.Name, err)
	}
	return got
}

// keysOf returns the join key values of ids.
func keysOf(ids ...int64) [][]*almanacv1.Value {
	keys := make([][]*almanacv1.Value, len(ids))
	for i, id := range ids {
		keys[i] = key(i64(id))
	}
	return keys
}

// tilesView is a view whose records writers update: opaque to the store.
func tilesView(name string) *online.View {
	return &online.View{Name: name}
}

func checkEncoded(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s, record %d: got %q, want %q", what, i, got[i], want[i])
		}
	}
}

// testUpdate checks that Update creates, replaces and, where fn returns "",
// leaves records; that fn sees what is stored, and for a key that comes
// again what it returned before; and that ReadEncoded returns the records
// as stored, byte for byte.
func testUpdate(t *testing.T, h *harness) {
	view := tilesView("tiles")
	binary := "\x00\xfftile\x00\x80" // not text: records are opaque
	type step struct {
		name  string
		ids   []int64
		old   []string // what fn must see, per key
		set   []string // what fn returns, per key
		after []string // the records of entities 1, 2, 3 afterwards
	}
	steps := []step{
		{"create", []int64{1, 2, 3}, []string{"", "", ""}, []string{"a1", binary, ""}, []string{"a1", binary, ""}},
		{"replace and leave", []int64{1, 2, 3}, []string{"a1", binary, ""}, []string{"a2", "", "c1"}, []string{"a2", binary, "c1"}},
		{"key again", []int64{3, 1, 3, 3}, []string{"c1", "a2", "c1+", "c1+"}, []string{"c1+", "a3", "", "c1++"}, []string{"a3", binary, "c1++"}},
		{"no keys", nil, nil, nil, []string{"a3", binary, "c1++"}},
	}
	for _, st := range steps {
		var seen []string
		h.update(t, view, keysOf(st.ids...), func(i int, old string) (string, error) {
			if i != len(seen) {
				return "", fmt.Errorf("fn called for key %d after %d keys", i, len(seen))
			}
			seen = append(seen, old)
			return st.set[i], nil
		})
		checkEncoded(t, st.name+": what fn saw", seen, st.old)
		if len(seen) != len(st.old) {
			t.Errorf("%s: fn called for %d keys, want %d", st.name, len(seen), len(st.old))
		}
		checkEncoded(t, st.name, h.readEncoded(t, view, 1, 2, 3), st.after)
	}
	checkEncoded(t, "another view of the same entities", h.readEncoded(t, tilesView("other"), 1, 2, 3), []string{"", "", ""})
}

// testUpdateErrors checks that an error of fn stops an Update, is returned
// wrapped and leaves the keys from the failing one on as they were; that a
// key that cannot identify an entity fails the Update whole; and that a
// canceled context stops it.
func testUpdateErrors(t *testing.T, h *harness) {
	view := tilesView("tiles")
	u := h.updater(t)
	h.update(t, view, keysOf(1, 2, 3, 4), func(i int, old string) (string, error) { return "before", nil })
	errFn := errors.New("tile of another schema")
	err := u.Update(h.ctx, *view, keysOf(1, 2, 3, 4), func(i int, old string) (string, error) {
		if i == 2 {
			return "", errFn
		}
		return "after", nil
	})
	if !errors.Is(err, errFn) || !strings.Contains(err.Error(), `view "tiles"`) {
		t.Errorf("fn failing: got error %v, want one naming the view and wrapping fn's", err)
	}
	got := h.readEncoded(t, view, 1, 2, 3, 4)
	checkEncoded(t, "the keys from the failing one on", got[2:], []string{"before", "before"})

	keys := append(keysOf(5), []*almanacv1.Value{{}})
	err = u.Update(h.ctx, *view, keys, func(i int, old string) (string, error) { return "x", nil })
	if !errors.Is(err, online.ErrInvalid) {
		t.Errorf("a null key: got error %v, want ErrInvalid", err)
	}
	checkEncoded(t, "an Update with a null key", h.readEncoded(t, view, 5), []string{""})

	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if err := u.Update(ctx, *view, keysOf(6), func(i int, old string) (string, error) { return "x", nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got error %v, want context.Canceled", err)
	}
	checkEncoded(t, "an Update with a canceled context", h.readEncoded(t, view, 6), []string{""})
}

// testUpdateConcurrent checks that concurrent Updates of shared keys lose
// nothing and count nothing twice: goroutines each add one to counters in
// the records of a few shared keys (one twice per Update) and of its own.
func testUpdateConcurrent(t *testing.T, h *harness) {
	view := tilesView("counters")
	const (
		workers = 8
		updates = 40
		shared  = 3
	)
	// Every record holds a counter after some bytes, as a tile record
	// holds its aggregates after a header.
	const pad = "tiles:"
	add := func(i int, old string) (string, error) {
		n := 0
		if old != "" {
			var err error
			if n, err = strconv.Atoi(strings.TrimPrefix(old, pad)); err != nil {
				return "", fmt.Errorf("key %d: read counter %q: %w", i, old, err)
			}
		}
		return pad + strconv.Itoa(n+1), nil
	}
	u := h.updater(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			// Shared keys, the first of them twice, and the worker's own.
			ids := []int64{0, 1, 2, 0, int64(100 + w)}
			for range updates {
				if err := u.Update(h.ctx, *view, keysOf(ids...), add); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := []string{pad + strconv.Itoa(2*workers*updates)}
	for range shared - 1 {
		want = append(want, pad+strconv.Itoa(workers*updates))
	}
	ids := []int64{0, 1, 2}
	for w := range workers {
		ids = append(ids, int64(100+w))
		want = append(want, pad+strconv.Itoa(updates))
	}
	checkEncoded(t, "counters", h.readEncoded(t, view, ids...), want)
}

// testUpdateManyKeys checks one Update of keys enough to span every slot
// group of a Cluster, and more than one script call takes.
func testUpdateManyKeys(t *testing.T, h *harness) {
	view := tilesView("tiles")
	const n = 2500
	ids := make([]int64, n)
	want := make([]string, n)
	for i := range ids {
		ids[i] = int64(i)
		want[i] = fmt.Sprintf("tile-%d", i)
	}
	h.update(t, view, keysOf(ids...), func(i int, old string) (string, error) {
		if old != "" {
			return "", fmt.Errorf("key %d: got record %q, want none", i, old)
		}
		return want[i], nil
	})
	checkEncoded(t, "created", h.readEncoded(t, view, ids...), want)
	h.update(t, view, keysOf(ids...), func(i int, old string) (string, error) {
		if old != want[i] {
			return "", fmt.Errorf("key %d: got record %q, want %q", i, old, want[i])
		}
		want[i] = old + "+"
		return want[i], nil
	})
	checkEncoded(t, "updated", h.readEncoded(t, view, ids...), want)
}

// testUpdateNeverExpires checks that an updated record does not expire,
// even where Write stored a record of a view with a TTL before, which the
// store removes in time.
func testUpdateNeverExpires(t *testing.T, h *harness) {
	const ttl = 500 * time.Millisecond
	view := statsView("tiles", ttl)
	at := time.Now().Truncate(time.Millisecond) // real time: Redis expires by its own clock
	h.clock.set(at)
	h.write(t, view, statsRow(1, at), statsRow(2, at))
	h.update(t, view, keysOf(1, 3), func(i int, old string) (string, error) { return "tile", nil })
	h.expire(t, at.Add(ttl+time.Millisecond), 1)
	checkEncoded(t, "past the TTL", h.readEncoded(t, view, 1, 2, 3), []string{"tile", "", "tile"})
}

// testUpdateClosed checks that an Update of a closed store returns
// ErrClosed.
func testUpdateClosed(t *testing.T, h *harness) {
	u := h.updater(t)
	if err := h.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	err := u.Update(h.ctx, *tilesView("tiles"), keysOf(1), func(i int, old string) (string, error) { return "x", nil })
	if !errors.Is(err, online.ErrClosed) {
		t.Errorf("update after close: got error %v, want ErrClosed", err)
	}
}
