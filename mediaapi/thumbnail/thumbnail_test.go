package thumbnail

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"

	"golang.org/x/image/webp"

	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

func TestSelect(t *testing.T) {
	tests := []struct {
		w, h   int
		method string
		want   Size
	}{
		{10, 10, Crop, Size{32, 32, Crop}},
		{32, 32, Crop, Size{32, 32, Crop}},
		{33, 20, Crop, Size{96, 96, Crop}},
		{500, 500, Crop, Size{96, 96, Crop}}, // none large enough: the largest crop
		{100, 100, Scale, Size{320, 240, Scale}},
		{320, 241, Scale, Size{640, 480, Scale}},
		{1000, 1000, Scale, Size{800, 600, Scale}},
		{64, 64, "other", Size{96, 96, Crop}}, // no size of that method: all sizes
	}
	for _, tc := range tests {
		if got := Select(DefaultSizes, tc.w, tc.h, tc.method); got != tc.want {
			t.Errorf("Select(%d, %d, %s) = %v, want %v", tc.w, tc.h, tc.method, got, tc.want)
		}
	}
}

func TestDimensions(t *testing.T) {
	tests := []struct {
		srcW, srcH int
		s          Size
		w, h       int
	}{
		{4000, 3000, Size{800, 600, Scale}, 800, 600},
		{3000, 4000, Size{800, 600, Scale}, 450, 600},
		{400, 300, Size{800, 600, Scale}, 400, 300}, // never enlarged
		{4000, 3000, Size{96, 96, Crop}, 96, 96},
		{50, 20, Size{96, 96, Crop}, 20, 20}, // small: the box's shape at the image's scale
		{1, 10000, Size{320, 240, Scale}, 1, 240},
	}
	for _, tc := range tests {
		if w, h := Dimensions(tc.srcW, tc.srcH, tc.s); w != tc.w || h != tc.h {
			t.Errorf("Dimensions(%d, %d, %v) = %d×%d, want %d×%d", tc.srcW, tc.srcH, tc.s, w, h, tc.w, tc.h)
		}
	}
}

// TestGenerate renders a quadrant image in every format at both methods and checks the
// output type, its dimensions and the pixels (thumbtest.Signature).
func TestGenerate(t *testing.T) {
	src := thumbtest.Quadrants(400, 300)
	formats := []struct {
		name, wantType string
		data           []byte
	}{
		{"jpeg", "image/jpeg", thumbtest.JPEG(src)},
		{"png", "image/png", thumbtest.PNG(src)},
		{"gif", "image/png", thumbtest.AnimatedGIF(src)},
		{"webp", "image/jpeg", thumbtest.WebP(src)}, // opaque WebP: JPEG
	}
	sizes := []struct {
		s    Size
		w, h int
	}{
		{Size{96, 96, Crop}, 96, 96},
		{Size{32, 32, Crop}, 32, 32},
		{Size{320, 240, Scale}, 320, 240},
		{Size{100, 100, Scale}, 100, 75},
		{Size{800, 600, Scale}, 400, 300},
	}
	for _, f := range formats {
		for _, sz := range sizes {
			res, err := Generate(bytes.NewReader(f.data), sz.s, 1<<20)
			if err != nil {
				t.Fatalf("%s %v: %v", f.name, sz.s, err)
			}
			if res.ContentType != f.wantType || res.Width != sz.w || res.Height != sz.h {
				t.Fatalf("%s %v: %s %d×%d, want %s %d×%d", f.name, sz.s, res.ContentType, res.Width, res.Height, f.wantType, sz.w, sz.h)
			}
			img, _, err := image.Decode(bytes.NewReader(res.Data))
			if err != nil {
				t.Fatalf("%s %v: output does not decode: %v", f.name, sz.s, err)
			}
			if b := img.Bounds(); b.Dx() != sz.w || b.Dy() != sz.h {
				t.Fatalf("%s %v: decoded %v", f.name, sz.s, b)
			}
			if sig := thumbtest.Signature(img); sig != thumbtest.QuadrantSignature {
				t.Errorf("%s %v: pixels %s, want %s", f.name, sz.s, sig, thumbtest.QuadrantSignature)
			}
		}
	}
}

// TestCropCuts: a wide image cropped square loses its sides, not its height.
func TestCropCuts(t *testing.T) {
	res, err := Generate(bytes.NewReader(thumbtest.PNG(thumbtest.Quadrants(400, 100))), Size{32, 32, Crop}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.Data))
	if err != nil {
		t.Fatal(err)
	}
	// The centre 100×100 of the 400×100 image: still the four quadrants, each 50×50.
	if sig := thumbtest.Signature(img); sig != thumbtest.QuadrantSignature {
		t.Fatalf("pixels %s", sig)
	}
	res, err = Generate(bytes.NewReader(thumbtest.PNG(thumbtest.Quadrants(400, 100))), Size{100, 100, Scale}, 1<<20)
	if err != nil || res.Width != 100 || res.Height != 25 {
		t.Fatalf("scale: %v %+v", err, res)
	}
}

func TestWebPEncoder(t *testing.T) {
	src := thumbtest.Quadrants(31, 17)
	img, err := webp.Decode(bytes.NewReader(thumbtest.WebP(src)))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 31 || b.Dy() != 17 {
		t.Fatalf("bounds %v", b)
	}
	for y := 0; y < 17; y++ {
		for x := 0; x < 31; x++ {
			r1, g1, b1, a1 := img.At(x, y).RGBA()
			r2, g2, b2, a2 := src.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel %d,%d differs", x, y)
			}
		}
	}
}

// TestRefused: bombs, truncated images and other content are errors, never panics.
func TestRefused(t *testing.T) {
	jpg := thumbtest.JPEG(thumbtest.Quadrants(400, 300))
	png := thumbtest.PNG(thumbtest.Quadrants(400, 300))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"png bomb", thumbtest.PNGBomb(100000, 100000), ErrTooManyPixels},
		{"over the limit", png, ErrTooManyPixels}, // 120000 pixels, limit below
		{"truncated jpeg", jpg[:len(jpg)/2], ErrNotImage},
		{"truncated png", png[:len(png)/2], ErrNotImage},
		{"header only png", thumbtest.PNGBomb(10, 10), ErrNotImage},
		{"text", []byte("hello, world"), ErrNotImage},
		{"empty", nil, ErrNotImage},
		{"zero width", thumbtest.PNGBomb(0, 10), ErrNotImage},
	}
	for _, tc := range tests {
		limit := int64(32_000_000)
		if tc.name == "over the limit" {
			limit = 100_000
		}
		_, err := Generate(bytes.NewReader(tc.data), Size{96, 96, Crop}, limit)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestBoxShrink: a big JPEG (YCbCr) and a big PNG (RGBA) go through the box average and
// still give the quadrants at the right size.
func TestBoxShrink(t *testing.T) {
	src := thumbtest.Quadrants(1600, 1200)
	for name, data := range map[string][]byte{"jpeg": thumbtest.JPEG(src), "png": thumbtest.PNG(src)} {
		for _, s := range []Size{{32, 32, Crop}, {320, 240, Scale}} {
			res, err := Generate(bytes.NewReader(data), s, 32_000_000)
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(res.Data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != s.Width || b.Dy() != s.Height {
				t.Fatalf("%s %v: %v", name, s, b)
			}
			if sig := thumbtest.Signature(img); sig != thumbtest.QuadrantSignature {
				t.Errorf("%s %v: pixels %s", name, s, sig)
			}
		}
	}
	// The average itself: a red and black chequer, then a grey block.
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 2))
	copy(rgba.Pix, []byte{200, 0, 0, 255, 0, 0, 0, 255, 100, 100, 100, 255, 100, 100, 100, 255,
		0, 0, 0, 255, 200, 0, 0, 255, 100, 100, 100, 255, 100, 100, 100, 255})
	out := boxShrink(rgba, rgba.Bounds(), 2)
	if want := []byte{100, 0, 0, 255, 100, 100, 100, 255}; !bytes.Equal(out.Pix, want) {
		t.Fatalf("box average %v, want %v", out.Pix, want)
	}
}

// withOrientation inserts an EXIF APP1 segment with orientation o (byte order bo) after a
// JPEG's SOI marker, behind an unrelated APP0 segment.
func withOrientation(jpg []byte, o uint16, bigEndian bool) []byte {
	var tiff []byte
	if bigEndian {
		tiff = []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2, // IFD0 at 8, 2 entries
			0x01, 0x0f, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, // Make (ASCII): skipped
			0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(o >> 8), byte(o), 0, 0, 0, 0, 0, 0, 0, 0}
	} else {
		tiff = []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0,
			0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), byte(o >> 8), 0, 0, 0, 0, 0, 0}
	}
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := func(marker byte, body []byte) []byte {
		return append([]byte{0xff, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)}, body...)
	}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg(0xe0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))...)
	out = append(out, seg(0xe1, app1)...)
	return append(out, jpg[2:]...)
}

// TestOrientation: a portrait photo stored sideways (300×400 stored) with each EXIF
// orientation gives an upright thumbnail: dimensions and quadrants turned as viewers show it.
func TestOrientation(t *testing.T) {
	jpg := thumbtest.JPEG(thumbtest.Quadrants(300, 400))
	tests := []struct {
		o         uint16
		bigEndian bool
		w, h      int
		sig       string
	}{
		{1, false, 180, 240, thumbtest.QuadrantSignature},
		{2, true, 180, 240, "GGRR/GGRR/WWBB/WWBB"},
		{3, false, 180, 240, "WWBB/WWBB/GGRR/GGRR"},
		{4, true, 180, 240, "BBWW/BBWW/RRGG/RRGG"},
		{5, false, 320, 240, "RRBB/RRBB/GGWW/GGWW"},
		{6, true, 320, 240, "BBRR/BBRR/WWGG/WWGG"},
		{6, false, 320, 240, "BBRR/BBRR/WWGG/WWGG"},
		{7, false, 320, 240, "WWGG/WWGG/BBRR/BBRR"},
		{8, true, 320, 240, "GGWW/GGWW/RRBB/RRBB"},
		{9, false, 180, 240, thumbtest.QuadrantSignature}, // invalid: as stored
	}
	for _, tc := range tests {
		res, err := Generate(bytes.NewReader(withOrientation(jpg, tc.o, tc.bigEndian)), Size{320, 240, Scale}, 1<<20)
		if err != nil {
			t.Fatalf("orientation %d: %v", tc.o, err)
		}
		img, _, err := image.Decode(bytes.NewReader(res.Data))
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != tc.w || res.Height != tc.h || img.Bounds().Dx() != tc.w || img.Bounds().Dy() != tc.h {
			t.Errorf("orientation %d: %d×%d, want %d×%d", tc.o, res.Width, res.Height, tc.w, tc.h)
		}
		if sig := thumbtest.Signature(img); sig != tc.sig {
			t.Errorf("orientation %d: pixels %s, want %s", tc.o, sig, tc.sig)
		}
	}
	// A crop box of a turned photo is the box asked for.
	res, err := Generate(bytes.NewReader(withOrientation(jpg, 6, false)), Size{96, 32, Crop}, 1<<20)
	if err != nil || res.Width != 96 || res.Height != 32 {
		t.Fatalf("crop of a turned photo: %v %+v", err, res)
	}
	// Garbage around the marker never panics.
	for _, b := range [][]byte{{0xff, 0xd8}, {0xff, 0xd8, 0xff, 0xe1, 0, 1}, {0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E'}} {
		if o := jpegOrientation(bytes.NewReader(b)); o != 1 {
			t.Errorf("%x: orientation %d", b, o)
		}
	}
	if o := exifOrientation([]byte("II\x2a\x00\xff\xff\xff\x7f")); o != 1 {
		t.Errorf("bad IFD offset: %d", o)
	}
}
