package thumbnail

import (
	"image"
	"image/color"
	"runtime"
	"sync"
)

// boxShrink averages each k×k block of sr in src into one pixel: a cheap first step before
// the bilinear kernel when an image shrinks a lot (a 4000×3000 photo to 800×600 reads every
// source sample once here instead of through the kernel's interface calls). It handles the
// decoders' common outputs, *image.YCbCr (JPEG) and *image.RGBA; nil for anything else,
// which the kernel then scales alone. Partial blocks at the right and bottom edges are
// averaged over what they have. The rows of blocks are split among GOMAXPROCS goroutines.
func boxShrink(src image.Image, sr image.Rectangle, k int) *image.RGBA {
	w, h := (sr.Dx()+k-1)/k, (sr.Dy()+k-1)/k
	switch s := src.(type) {
	case *image.YCbCr:
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		byRows(h, func(from, to int) { shrinkYCbCr(s, dst, sr, k, from, to) })
		return dst
	case *image.RGBA:
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		byRows(h, func(from, to int) { shrinkRGBA(s, dst, sr, k, from, to) })
		return dst
	}
	return nil
}

// byRows runs fn over [0, h) in as many parts as there are processors (at least 8 rows
// each), in parallel, and returns when all are done.
func byRows(h int, fn func(from, to int)) {
	n := min(runtime.GOMAXPROCS(0), max(1, h/8))
	if n <= 1 {
		fn(0, h)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		from, to := h*i/n, h*(i+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(from, to)
		}()
	}
	wg.Wait()
}

// shrinkYCbCr box-averages the rows of blocks [from, to) of sr in s into dst.
func shrinkYCbCr(s *image.YCbCr, dst *image.RGBA, sr image.Rectangle, k, from, to int) {
	w := dst.Rect.Dx()
	for by := from; by < to; by++ {
		y0, y1 := sr.Min.Y+by*k, min(sr.Min.Y+(by+1)*k, sr.Max.Y)
		for bx := 0; bx < w; bx++ {
			x0, x1 := sr.Min.X+bx*k, min(sr.Min.X+(bx+1)*k, sr.Max.X)
			var ys, cbs, crs, n uint32
			for y := y0; y < y1; y++ {
				row := s.YOffset(x0, y)
				for x := x0; x < x1; x++ {
					ys += uint32(s.Y[row])
					row++
				}
				// Chroma is subsampled: one sample a row, from the block's middle column.
				c := s.COffset((x0+x1)/2, y)
				cbs += uint32(s.Cb[c])
				crs += uint32(s.Cr[c])
				n++
			}
			cnt := n * uint32(x1-x0)
			r, g, b := color.YCbCrToRGB(uint8((ys+cnt/2)/cnt), uint8((cbs+n/2)/n), uint8((crs+n/2)/n))
			i := dst.PixOffset(bx, by)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = r, g, b, 0xff
		}
	}
}

// shrinkRGBA box-averages the rows of blocks [from, to) of sr in s into dst.
func shrinkRGBA(s *image.RGBA, dst *image.RGBA, sr image.Rectangle, k, from, to int) {
	w := dst.Rect.Dx()
	for by := from; by < to; by++ {
		y0, y1 := sr.Min.Y+by*k, min(sr.Min.Y+(by+1)*k, sr.Max.Y)
		for bx := 0; bx < w; bx++ {
			x0, x1 := sr.Min.X+bx*k, min(sr.Min.X+(bx+1)*k, sr.Max.X)
			var sum [4]uint32
			for y := y0; y < y1; y++ {
				p := s.Pix[s.PixOffset(x0, y):s.PixOffset(x1, y)]
				for i := 0; i+3 < len(p); i += 4 {
					sum[0] += uint32(p[i])
					sum[1] += uint32(p[i+1])
					sum[2] += uint32(p[i+2])
					sum[3] += uint32(p[i+3])
				}
			}
			cnt := uint32((x1 - x0) * (y1 - y0))
			i := dst.PixOffset(bx, by)
			for c := 0; c < 4; c++ {
				dst.Pix[i+c] = uint8((sum[c] + cnt/2) / cnt)
			}
		}
	}
}
