package online_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/almanac-fs/almanac/online"
	"github.com/almanac-fs/almanac/online/local"
	almanacv1 "github.com/almanac-fs/almanac/proto/almanac/v1"
	"github.com/almanac-fs/almanac/registry"
)

// hungStore is an online store whose calls, while hung, wait until their
// context ends, as calls to a frozen Redis do.
type hungStore struct {
	online.Store
	hung bool
}

func (h *hungStore) wait(ctx context.Context) error {
	if !h.hung {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("hung store: %w", ctx.Err())
}

func (h *hungStore) Read(ctx context.Context, lookups []online.Lookup) ([]online.Record, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return h.Store.Read(ctx, lookups)
}

func (h *hungStore) Write(ctx context.Context, view online.View, rows []online.Row) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Store.Write(ctx, view, rows)
}

func (h *hungStore) Update(ctx context.Context, view online.View, keys [][]*almanacv1.Value, fn func(i int, old string) (string, error)) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Store.(online.Updater).Update(ctx, view, keys, fn)
}

func (h *hungStore) Ping(ctx context.Context) error { return h.wait(ctx) }

// TestBound checks that a bounded store's calls to a hung store fail with
// online.ErrTimeout once the bound passes, and with the caller's own
// deadline when that comes first; calls that are answered pass through.
func TestBound(t *testing.T) {
	inner, err := local.New(local.DefaultOptions(filepath.Join(t.TempDir(), "online.db")))
	if err != nil {
		t.Fatal(err)
	}
	hung := &hungStore{Store: inner}
	store := online.Bound(hung, 50*time.Millisecond)
	t.Cleanup(func() { store.Close() })
	view := online.View{Name: "v", Features: []registry.Field{{Name: "x", Type: registry.Type{Elem: registry.Int64}}}}
	key := []*almanacv1.Value{{Val: &almanacv1.Value_Int64Val{Int64Val: 1}}}
	row := online.Row{Key: key, EventTime: time.UnixMilli(1_700_000_000_000), Values: []*almanacv1.Value{{Val: &almanacv1.Value_Int64Val{Int64Val: 7}}}}
	lookups := []online.Lookup{{View: &view, Key: key}}
	calls := map[string]func(context.Context) error{
		"write": func(ctx context.Context) error { return store.Write(ctx, view, []online.Row{row}) },
		"write encoded": func(ctx context.Context) error {
			rows, err := online.EncodeRows(&view, []online.Row{row})
			if err != nil {
				t.Fatal(err)
			}
			return online.WriteEncoded(ctx, store, view, rows)
		},
		"read": func(ctx context.Context) error {
			_, err := store.Read(ctx, lookups)
			return err
		},
		"read encoded": func(ctx context.Context) error {
			_, err := online.ReadEncoded(ctx, store, lookups)
			return err
		},
		"update": func(ctx context.Context) error {
			return store.(online.Updater).Update(ctx, online.View{Name: "tiles"}, [][]*almanacv1.Value{key}, func(int, string) (string, error) { return "tiles", nil })
		},
		"ping": func(ctx context.Context) error { return store.(interface{ Ping(context.Context) error }).Ping(ctx) },
	}
	tests := []struct {
		name     string
		hung     bool
		deadline time.Duration // of the caller's context; 0: none
		want     []error       // what the error wraps; none: no error
		not      error         // what it must not wrap
	}{
		{name: "answered", hung: false},
		{name: "hung", hung: true, want: []error{online.ErrTimeout, online.ErrUnavailable}},
		{name: "hung, caller's deadline later", hung: true, deadline: time.Minute, want: []error{online.ErrTimeout}},
		{name: "hung, caller's deadline first", hung: true, deadline: 10 * time.Millisecond, want: []error{context.DeadlineExceeded}, not: online.ErrUnavailable},
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				hung.hung = tt.hung
				ctx := t.Context()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				err := call(ctx)
				if len(tt.want) == 0 && err != nil {
					t.Fatalf("error %v, want none", err)
				}
				for _, want := range tt.want {
					if !errors.Is(err, want) {
						t.Errorf("error %v, want one wrapping %v", err, want)
					}
				}
				if tt.not != nil && errors.Is(err, tt.not) {
					t.Errorf("error %v wraps %v", err, tt.not)
				}
			})
		}
	}
	plain := online.Bound(struct{ online.Store }{inner}, time.Second)
	err = plain.(online.Updater).Update(t.Context(), view, [][]*almanacv1.Value{key}, func(int, string) (string, error) { return "tiles", nil })
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("update through a store without Update: got error %v, want errors.ErrUnsupported", err)
	}
	if got := online.Bound(inner, 0); got != online.Store(inner) {
		t.Errorf("Bound(s, 0) = %T, want s itself", got)
	}
}
