package local

import (
	"testing"

	"github.com/almanac-fs/almanac/online/onlinetest"
)

func BenchmarkRead(b *testing.B) {
	b.Run("backend=local", func(b *testing.B) {
		onlinetest.BenchRead(b, newStore(b, Options{SweepInterval: -1}), 100, 5)
	})
}

func BenchmarkUpdate(b *testing.B) {
	b.Run("backend=local", func(b *testing.B) {
		onlinetest.BenchUpdate(b, newStore(b, Options{SweepInterval: -1}), 10_000, 1024)
	})
}
