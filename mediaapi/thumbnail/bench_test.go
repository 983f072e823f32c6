package thumbnail

import (
	"bytes"
	"testing"

	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

// BenchmarkGenerate4000x3000: the cold thumbnail (decode, scale, encode) of a 12-megapixel
// JPEG at the largest default size and the smallest crop.
func BenchmarkGenerate4000x3000(b *testing.B) {
	data := thumbtest.JPEG(thumbtest.Photo(4000, 3000))
	for _, s := range []Size{{800, 600, Scale}, {32, 32, Crop}} {
		b.Run(s.Method+"-"+itoa(s.Width), func(b *testing.B) {
			for b.Loop() {
				if _, err := Generate(bytes.NewReader(data), s, 32_000_000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
