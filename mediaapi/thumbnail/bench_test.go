package thumbnail

import (
	"bytes"
	"image/jpeg"
	"syscall"
	"testing"
	"time"

	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

// userCPU is the user CPU time this process has used so far. On a machine shared with
// other work, wall time per op grows with the load; user CPU time per op much less (it
// counts only this process's work, on every thread: the garbage collector's included).
func userCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skip("no getrusage")
	}
	return time.Duration(ru.Utime.Nano())
}

// reportCPU runs fn as the benchmark loop and reports user CPU milliseconds per op.
func reportCPU(b *testing.B, fn func()) {
	start := userCPU(b)
	n := 0
	for b.Loop() {
		fn()
		n++
	}
	b.ReportMetric(float64(userCPU(b)-start)/float64(time.Millisecond)/float64(n), "user-ms/op")
}

// BenchmarkGenerate4000x3000: the cold thumbnail (decode, scale, encode) of a 12-megapixel
// JPEG at the largest default size, the smallest crop, and all five default sizes from one
// decode.
func BenchmarkGenerate4000x3000(b *testing.B) {
	data := thumbtest.JPEG(thumbtest.Photo(4000, 3000))
	for _, c := range []struct {
		name  string
		sizes []Size
	}{
		{"scale-800", []Size{{800, 600, Scale}}},
		{"crop-32", []Size{{32, 32, Crop}}},
		{"all-5", DefaultSizes},
	} {
		b.Run(c.name, func(b *testing.B) {
			reportCPU(b, func() {
				if _, err := GenerateAll(bytes.NewReader(data), c.sizes, 32_000_000); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDecode4000x3000: the standard library's JPEG decode of the same image alone,
// to tell its cost from the rest of a cold thumbnail.
func BenchmarkDecode4000x3000(b *testing.B) {
	data := thumbtest.JPEG(thumbtest.Photo(4000, 3000))
	reportCPU(b, func() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	})
}
