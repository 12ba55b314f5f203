package online

import (
	"testing"
	"time"
)

func TestViewExpiry(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		ttl, retained time.Duration
		age           time.Duration // of the record at now
		wantAt        time.Time     // zero: never
		wantExpired   bool
	}{
		{"no TTL", 0, 0, 1000 * time.Hour, time.Time{}, false},
		{"no TTL, a retention is ignored", 0, time.Hour, 1000 * time.Hour, time.Time{}, false},
		{"within the TTL", time.Hour, 0, time.Hour, at.Add(time.Hour), false},
		{"past the TTL, retention 0", time.Hour, 0, time.Hour + time.Millisecond, at.Add(time.Hour), true},
		{"past the TTL, within the retention", time.Hour, 2 * time.Hour, time.Hour + time.Millisecond, at.Add(3 * time.Hour), false},
		{"at the end of the retention", time.Hour, 2 * time.Hour, 3 * time.Hour, at.Add(3 * time.Hour), false},
		{"past the retention", time.Hour, 2 * time.Hour, 3*time.Hour + time.Millisecond, at.Add(3 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := View{TTL: tt.ttl, StaleRetention: tt.retained}
			gotAt, gotExpired := v.Expiry(at, at.Add(tt.age))
			wantAt := int64(0)
			if !tt.wantAt.IsZero() {
				wantAt = tt.wantAt.UnixMilli()
			}
			if gotAt != wantAt || gotExpired != tt.wantExpired {
				t.Errorf("got %d, %v; want %d, %v", gotAt, gotExpired, wantAt, tt.wantExpired)
			}
		})
	}
}
