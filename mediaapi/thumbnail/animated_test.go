package thumbnail

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"testing"

	"github.com/axon-matrix/axon/mediaapi/thumbnail/thumbtest"
)

// paletted draws img (of any size) into a Plan 9 paletted frame at r.
func paletted(img image.Image, r image.Rectangle) *image.Paletted {
	p := image.NewPaletted(r, palette.Plan9)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p.Set(x, y, img.At(x-r.Min.X, y-r.Min.Y))
		}
	}
	return p
}

func solid(c color.Color) image.Image { return &image.Uniform{C: c} }

// threeFrames is a 400×300 animation: the quadrants; all blue (cleared afterwards:
// DisposalBackground); a red top-left quarter, drawn on the cleared (transparent) canvas.
// Delays 10, 20, 30; loop count 3.
func threeFrames(disposal byte) []byte {
	full := image.Rect(0, 0, 400, 300)
	g := &gif.GIF{
		Image: []*image.Paletted{
			paletted(thumbtest.Quadrants(400, 300), full),
			paletted(solid(thumbtest.Blue), full),
			paletted(solid(thumbtest.Red), image.Rect(0, 0, 200, 150)),
		},
		Delay:     []int{10, 20, 30},
		Disposal:  []byte{gif.DisposalNone, disposal, gif.DisposalNone},
		LoopCount: 3,
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestGenerateAnimated: animated=true on an animated GIF gives an animated GIF whose every
// frame is the composed source frame scaled (compared by frame count, size, delays, loop
// count and each frame's pixel signature), disposal methods applied; still images give
// what Generate gives; too many frames × pixels are refused before decoding.
func TestGenerateAnimated(t *testing.T) {
	cases := []struct {
		name     string
		data     []byte
		s        Size
		w, h     int
		wantSigs []string // nil: a still image is expected
		wantType string
	}{
		{"cleared between frames", threeFrames(gif.DisposalBackground), Size{100, 100, Scale}, 100, 75,
			[]string{thumbtest.QuadrantSignature, "BBBB/BBBB/BBBB/BBBB", "RRKK/RRKK/KKKK/KKKK"}, "image/gif"},
		{"drawn over", threeFrames(gif.DisposalNone), Size{100, 100, Scale}, 100, 75,
			[]string{thumbtest.QuadrantSignature, "BBBB/BBBB/BBBB/BBBB", "RRBB/RRBB/BBBB/BBBB"}, "image/gif"},
		{"previous restored", threeFrames(gif.DisposalPrevious), Size{32, 32, Crop}, 32, 32,
			[]string{thumbtest.QuadrantSignature, "BBBB/BBBB/BBBB/BBBB", "RRGG/RRGG/BBWW/BBWW"}, "image/gif"},
		{"two frames", thumbtest.AnimatedGIF(thumbtest.Quadrants(400, 300)), Size{96, 96, Crop}, 96, 96,
			[]string{thumbtest.QuadrantSignature, "KKKK/KKKK/KKKK/KKKK"}, "image/gif"},
		{"still GIF", thumbtest.GIF(thumbtest.Quadrants(400, 300)), Size{100, 100, Scale}, 100, 75, nil, "image/png"},
		{"JPEG", thumbtest.JPEG(thumbtest.Quadrants(400, 300)), Size{100, 100, Scale}, 100, 75, nil, "image/jpeg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := GenerateAnimated(bytes.NewReader(c.data), c.s, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != c.wantType || res.Width != c.w || res.Height != c.h {
				t.Fatalf("%s %d×%d, want %s %d×%d", res.ContentType, res.Width, res.Height, c.wantType, c.w, c.h)
			}
			if c.wantSigs == nil {
				img, _, err := image.Decode(bytes.NewReader(res.Data))
				if err != nil || thumbtest.Signature(img) != thumbtest.QuadrantSignature {
					t.Fatalf("still: %v %v", err, img)
				}
				return
			}
			g, err := gif.DecodeAll(bytes.NewReader(res.Data))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Image) != len(c.wantSigs) || g.Config.Width != c.w || g.Config.Height != c.h {
				t.Fatalf("%d frames of %d×%d, want %d of %d×%d", len(g.Image), g.Config.Width, g.Config.Height, len(c.wantSigs), c.w, c.h)
			}
			for i, fr := range g.Image {
				if fr.Bounds() != image.Rect(0, 0, c.w, c.h) {
					t.Errorf("frame %d: bounds %v", i, fr.Bounds())
				}
				if sig := thumbtest.Signature(fr); sig != c.wantSigs[i] {
					t.Errorf("frame %d: pixels %s, want %s", i, sig, c.wantSigs[i])
				}
			}
			if len(c.wantSigs) == 3 && (g.Delay[0] != 10 || g.Delay[1] != 20 || g.Delay[2] != 30 || g.LoopCount != 3) {
				t.Errorf("delays %v, loop count %d", g.Delay, g.LoopCount)
			}
		})
	}
}

// TestGenerateAnimatedRefused: frames × canvas over the pixel limit are not animated (the
// first frame, still); a canvas over it is refused; a GIF cut short is not an image.
func TestGenerateAnimatedRefused(t *testing.T) {
	data := threeFrames(gif.DisposalNone)
	if res, err := GenerateAnimated(bytes.NewReader(data), Size{32, 32, Crop}, 3*400*300-1); err != nil || res.ContentType != "image/png" {
		t.Fatalf("over the limit: %v %v", res, err)
	}
	if res, err := GenerateAnimated(bytes.NewReader(data), Size{32, 32, Crop}, 3*400*300); err != nil || res.ContentType != "image/gif" {
		t.Fatalf("at the limit: %v %v", res, err)
	}
	if _, err := GenerateAnimated(bytes.NewReader(data), Size{32, 32, Crop}, 400*300-1); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("canvas over the limit: %v", err)
	}
	for _, n := range []int{len(data) / 2, 20, 8} {
		if _, err := GenerateAnimated(bytes.NewReader(data[:n]), Size{32, 32, Crop}, 1<<30); !errors.Is(err, ErrNotImage) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
	if _, err := GenerateAnimated(bytes.NewReader(thumbtest.PNGBomb(100000, 100000)), Size{32, 32, Crop}, 1<<20); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("PNG bomb: %v", err)
	}
}

// TestCountGIFFrames: the block walk agrees with the decoder.
func TestCountGIFFrames(t *testing.T) {
	for _, data := range [][]byte{threeFrames(gif.DisposalNone), thumbtest.AnimatedGIF(thumbtest.Quadrants(10, 10)), thumbtest.GIF(thumbtest.Quadrants(10, 10))} {
		n, err := countGIFFrames(bytes.NewReader(data))
		g, gerr := gif.DecodeAll(bytes.NewReader(data))
		if err != nil || gerr != nil || n != len(g.Image) {
			t.Fatalf("counted %d (%v), decoded %d (%v)", n, err, len(g.Image), gerr)
		}
	}
}
