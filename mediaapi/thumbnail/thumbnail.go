// Package thumbnail makes the mediaapi's thumbnails: it picks which configured size answers
// a request (Select) and renders an image at that size (Generate), in pure Go (the standard
// JPEG, PNG and GIF decoders, golang.org/x/image/webp, golang.org/x/image/draw), so
// CGO_ENABLED=0 builds keep working. Images are measured before they are decoded, and one
// with more pixels than allowed is refused without being decoded (decompression bombs).
package thumbnail

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Methods of a thumbnail (the spec's `method` parameter).
const (
	Scale = "scale" // fit inside the box, keeping the aspect ratio
	Crop  = "crop"  // fill the box exactly, cutting what sticks out (centred)
)

// Size is one pre-generated thumbnail size (media_api.thumbnail_sizes).
type Size struct {
	Width, Height int
	Method        string
}

// DefaultSizes are Synapse's default thumbnail sizes.
var DefaultSizes = []Size{
	{32, 32, Crop}, {96, 96, Crop}, {320, 240, Scale}, {640, 480, Scale}, {800, 600, Scale},
}

// Select returns the configured size that answers a request for width×height by method:
// among the sizes of that method (all sizes if none has it), the smallest at least as large
// as asked in both dimensions, else the largest. sizes must not be empty.
func Select(sizes []Size, width, height int, method string) Size {
	cands := make([]Size, 0, len(sizes))
	for _, s := range sizes {
		if s.Method == method {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		cands = sizes
	}
	var best, largest *Size
	for i := range cands {
		s := &cands[i]
		area := s.Width * s.Height
		if s.Width >= width && s.Height >= height && (best == nil || area < best.Width*best.Height) {
			best = s
		}
		if largest == nil || area > largest.Width*largest.Height {
			largest = s
		}
	}
	if best != nil {
		return *best
	}
	return *largest
}

// Errors of Generate: the content cannot be thumbnailed. Both are the client's problem, not
// the server's.
var (
	// ErrNotImage: not an image of a supported format (JPEG, PNG, GIF, WebP), or one that
	// does not decode (truncated, corrupt).
	ErrNotImage = errors.New("thumbnail: not a supported image")
	// ErrTooManyPixels: the image's header claims more pixels than the limit.
	ErrTooManyPixels = errors.New("thumbnail: image has too many pixels")
)

// Result is a rendered thumbnail.
type Result struct {
	Data          []byte
	ContentType   string // image/jpeg or image/png
	Width, Height int
}

// JPEGQuality is the quality of JPEG thumbnails.
const JPEGQuality = 80

// Generate renders the image r holds at size s, refusing (ErrTooManyPixels) an image whose
// header claims more than maxPixels pixels before decoding it. An image smaller than the
// size is not enlarged. JPEG sources give JPEG thumbnails; PNG and GIF sources give PNG
// (transparency kept); WebP gives PNG when it has transparency, JPEG otherwise. Animated
// GIF and WebP: the first frame. A JPEG's EXIF orientation is applied (the thumbnail is
// upright, as viewers show the photo).
func Generate(r io.ReadSeeker, s Size, maxPixels int64) (*Result, error) {
	res, err := GenerateAll(r, []Size{s}, maxPixels)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// GenerateAll renders the image r holds at every size of sizes (not empty) from one decode,
// as Generate does for one: decoding is most of the cost of a thumbnail (a 12-megapixel
// JPEG takes the standard decoder hundreds of milliseconds), the rest little. A large image
// is box-averaged once, to the smallest size every thumbnail can still be made from
// (preShrink), and each size is scaled from that.
func GenerateAll(r io.ReadSeeker, sizes []Size, maxPixels int64) ([]*Result, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrNotImage)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("%w: %d×%d is over %d pixels", ErrTooManyPixels, cfg.Width, cfg.Height, maxPixels)
	}
	orientation := 1
	if format == "jpeg" {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		orientation = jpegOrientation(r)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	src, err := decode(r, format)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	// A JPEG shown turned a quarter (EXIF orientation 5–8) is rendered into the box turned
	// the same way, then turned upright.
	boxes := make([]Size, len(sizes))
	for i, s := range sizes {
		boxes[i] = s
		if orientation >= 5 {
			boxes[i].Width, boxes[i].Height = s.Height, s.Width
		}
	}
	base := preShrink(src, boxes)
	out := make([]*Result, len(sizes))
	for i, box := range boxes {
		w, h := Dimensions(src.Bounds().Dx(), src.Bounds().Dy(), box)
		dst := orient(renderTo(base, box.Method, w, h), orientation)
		var buf bytes.Buffer
		res := &Result{Width: dst.Bounds().Dx(), Height: dst.Bounds().Dy()}
		if format == "jpeg" || (format == "webp" && dst.Opaque()) {
			res.ContentType = "image/jpeg"
			err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: JPEGQuality})
		} else {
			res.ContentType = "image/png"
			err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst)
		}
		if err != nil {
			return nil, fmt.Errorf("thumbnail: encoding: %w", err)
		}
		res.Data = buf.Bytes()
		out[i] = res
	}
	return out, nil
}

// preShrink box-averages src by the largest whole factor every box can still be rendered
// from with a factor of at least 1 left (so each thumbnail's own box average and bilinear
// step see no fewer pixels than they need); src itself when that factor is under 2 or
// src's type is not one boxShrink handles.
func preShrink(src image.Image, boxes []Size) image.Image {
	b := src.Bounds()
	k := 0
	for _, box := range boxes {
		w, h := Dimensions(b.Dx(), b.Dy(), box)
		sr := b
		if box.Method == Crop {
			sr = cropRect(b, w, h)
		}
		if f := min(sr.Dx()/w, sr.Dy()/h); k == 0 || f < k {
			k = f
		}
	}
	if k < 2 {
		return src
	}
	if pre := boxShrink(src, b, k); pre != nil {
		return pre
	}
	return src
}

// decode decodes the image of format (as image.DecodeConfig named it): only the formats
// thumbnails are made of.
func decode(r io.Reader, format string) (image.Image, error) {
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r) // the first frame
	case "webp":
		return webp.Decode(r)
	}
	return nil, fmt.Errorf("format %q is not thumbnailed", format)
}

// Dimensions is the size of the thumbnail of a srcW×srcH image at s: for Scale the largest
// size with the image's aspect ratio inside the box, for Crop the box; never larger than the
// image (a Crop of a small image keeps the box's aspect ratio at the image's scale).
func Dimensions(srcW, srcH int, s Size) (w, h int) {
	if s.Method == Crop {
		f := math.Min(1, math.Min(float64(srcW)/float64(s.Width), float64(srcH)/float64(s.Height)))
		return max(1, int(math.Round(float64(s.Width)*f))), max(1, int(math.Round(float64(s.Height)*f)))
	}
	f := math.Min(1, math.Min(float64(s.Width)/float64(srcW), float64(s.Height)/float64(srcH)))
	return max(1, int(math.Round(float64(srcW)*f))), max(1, int(math.Round(float64(srcH)*f)))
}

// cropRect is the centred part of b with the aspect ratio w:h, as large as fits.
func cropRect(b image.Rectangle, w, h int) image.Rectangle {
	sw, sh := b.Dx(), b.Dy()
	cw, ch := sw, int(math.Round(float64(sw)*float64(h)/float64(w)))
	if ch > sh {
		cw, ch = int(math.Round(float64(sh)*float64(w)/float64(h))), sh
	}
	cw, ch = max(1, min(cw, sw)), max(1, min(ch, sh))
	x0, y0 := b.Min.X+(sw-cw)/2, b.Min.Y+(sh-ch)/2
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// render scales (and for Crop, cuts) src to its thumbnail dimensions at s.
func render(src image.Image, s Size) *image.RGBA {
	w, h := Dimensions(src.Bounds().Dx(), src.Bounds().Dy(), s)
	return renderTo(src, s.Method, w, h)
}

// renderTo scales src (for Crop, its centred part of the aspect ratio w:h) to exactly w×h:
// a box average first when the image shrinks a lot (boxShrink), then the bilinear kernel,
// which filters every source pixel (no aliasing) and is the fastest of x/image/draw's
// kernels that does.
func renderTo(src image.Image, method string, w, h int) *image.RGBA {
	b := src.Bounds()
	sr := b
	if method == Crop {
		sr = cropRect(b, w, h)
	}
	// Shrinking by 2 times or more: box-average by the whole factor first, leaving the
	// kernel less than 2 times to go.
	if k := min(sr.Dx()/w, sr.Dy()/h); k >= 2 {
		if pre := boxShrink(src, sr, k); pre != nil {
			src, sr = pre, pre.Bounds()
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if sr.Dx() == w && sr.Dy() == h {
		draw.Draw(dst, dst.Bounds(), src, sr.Min, draw.Src)
		return dst
	}
	draw.BiLinear.Scale(dst, dst.Bounds(), src, sr, draw.Src, nil)
	return dst
}
