package redis

import "testing"

func TestSetFirst(t *testing.T) {
	var f setFirst
	steps := []struct {
		rows, held int // what the batch found, if it tried
		want       bool
	}{
		{1000, 0, true},   // a new store tries SET NX
		{1000, 500, true}, // half held: still worth it
		{1000, 501, true}, // mostly held: skip from the next batch
		{0, 0, false},     // skipped batches 1 to 15
		{0, 0, false},
	}
	for i, s := range steps {
		got := f.try()
		if got != s.want {
			t.Fatalf("step %d: try() = %t, want %t", i, got, s.want)
		}
		if got {
			f.record(s.rows, s.held)
		}
	}
	tries := 0
	for range 2 * probeEvery {
		if f.try() {
			tries++
			f.record(1000, 1000) // still all held
		}
	}
	if tries != 2 {
		t.Fatalf("while keys stay held, %d of %d batches tried SET NX, want 2", tries, 2*probeEvery)
	}
	for !f.try() {
	}
	f.record(1000, 10) // new keys again
	if !f.try() || !f.try() {
		t.Fatal("after a probe found new keys, batches do not try SET NX again")
	}
}
