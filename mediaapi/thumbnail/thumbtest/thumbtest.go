// Package thumbtest makes the test images of the mediaapi's thumbnail tests, in every
// format thumbnails are made of (WebP through a minimal lossless encoder written here: the
// Go libraries only decode WebP), and reads back a coarse signature of an image's pixels.
package thumbtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
)

// Quadrant colours: every channel 0 or 255, so a lossy encoding still reads back the same
// and the WebP encoder needs only two symbols a channel.
var (
	Red   = color.RGBA{255, 0, 0, 255}
	Green = color.RGBA{0, 255, 0, 255}
	Blue  = color.RGBA{0, 0, 255, 255}
	White = color.RGBA{255, 255, 255, 255}
)

// Quadrants is a w×h image: red top left, green top right, blue bottom left, white bottom
// right.
func Quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := Red
			switch {
			case x >= w/2 && y < h/2:
				c = Green
			case x < w/2 && y >= h/2:
				c = Blue
			case x >= w/2 && y >= h/2:
				c = White
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Signature reads img on a 4×4 grid (the centre of each cell) and names each sample's
// colour by its channels, each 0 or 1 (under or over half): "R" red, "G" green, "B" blue,
// "W" white, "K" black, "?" anything else; rows separated by "/". A quadrant image gives
// "RRGG/RRGG/BBWW/BBWW" whatever its size, and survives JPEG.
func Signature(img image.Image) string {
	b := img.Bounds()
	var sb strings.Builder
	for j := 0; j < 4; j++ {
		if j > 0 {
			sb.WriteByte('/')
		}
		for i := 0; i < 4; i++ {
			x := b.Min.X + (2*i+1)*b.Dx()/8
			y := b.Min.Y + (2*j+1)*b.Dy()/8
			r, g, bl, _ := img.At(x, y).RGBA()
			key := [3]bool{r > 0x8000, g > 0x8000, bl > 0x8000}
			switch key {
			case [3]bool{true, false, false}:
				sb.WriteByte('R')
			case [3]bool{false, true, false}:
				sb.WriteByte('G')
			case [3]bool{false, false, true}:
				sb.WriteByte('B')
			case [3]bool{true, true, true}:
				sb.WriteByte('W')
			case [3]bool{false, false, false}:
				sb.WriteByte('K')
			default:
				sb.WriteByte('?')
			}
		}
	}
	return sb.String()
}

// QuadrantSignature is Signature of any Quadrants image.
const QuadrantSignature = "RRGG/RRGG/BBWW/BBWW"

// JPEG, PNG encode img.
func JPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func PNG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// GIF is img as a still (one-frame) GIF.
func GIF(img image.Image) []byte {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, img, &gif.Options{NumColors: 256}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// AnimatedGIF is a two-frame GIF: img, then a black frame.
func AnimatedGIF(img image.Image) []byte {
	b := img.Bounds()
	first := image.NewPaletted(b, palette.Plan9)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			first.Set(x, y, img.At(x, y))
		}
	}
	second := image.NewPaletted(b, palette.Plan9) // index 0 is black
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{10, 10}})
	if err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// WebP encodes img as lossless WebP (VP8L) with no transform and no colour cache, each
// channel coded with a one-bit prefix code of the symbols 0 and 255, alpha always 255: so
// img's channels must each be 0 or 255 (over half counts as 255).
func WebP(img image.Image) []byte {
	b := img.Bounds()
	w := &bitWriter{}
	w.write(0x2f, 8) // VP8L signature
	w.write(uint32(b.Dx()-1), 14)
	w.write(uint32(b.Dy()-1), 14)
	w.write(0, 1)          // alpha unused
	w.write(0, 3)          // version 0
	w.write(0, 1)          // no transform
	w.write(0, 1)          // no colour cache
	w.write(0, 1)          // no meta prefix codes
	twoSymbols := func() { // simple code: 2 symbols, the first 1 bit long (0), the second 8 (255)
		w.write(1, 1)
		w.write(1, 1)
		w.write(0, 1)
		w.write(0, 1)
		w.write(255, 8)
	}
	twoSymbols() // green
	twoSymbols() // red
	twoSymbols() // blue
	w.write(1, 1)
	w.write(0, 1)
	w.write(1, 1)
	w.write(255, 8) // alpha: the one symbol 255
	w.write(1, 1)
	w.write(0, 1)
	w.write(0, 1)
	w.write(0, 1) // distance: the one symbol 0
	bit := func(v uint32) uint32 {
		if v > 0x8000 {
			return 1
		}
		return 0
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			w.write(bit(g), 1)
			w.write(bit(r), 1)
			w.write(bit(bl), 1)
		}
	}
	data := w.bytes()
	chunk := len(data)
	pad := chunk & 1
	out := make([]byte, 0, 20+chunk+pad)
	out = append(out, "RIFF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+chunk+pad))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(chunk))
	out = append(out, data...)
	if pad == 1 {
		out = append(out, 0)
	}
	return out
}

type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

// write appends the n low bits of v, least significant first (VP8L's bit order).
func (w *bitWriter) write(v uint32, n uint) {
	w.acc |= uint64(v) << w.n
	w.n += n
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc, w.n = 0, 0
	}
	return w.buf
}

// PNGBomb is the start of a PNG whose header claims width×height pixels: the signature and a
// valid IHDR chunk (8-bit RGBA), and nothing after it.
func PNGBomb(width, height uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, width)
	ihdr = binary.BigEndian.AppendUint32(ihdr, height)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // bit depth 8, RGBA, deflate, filter 0, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)))
	typed := append([]byte("IHDR"), ihdr...)
	out = append(out, typed...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(typed))
}

// Photo is a w×h image of gradients and noise, closer to a photo than flat colours (for
// benchmarks: it does not compress to nothing).
func Photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(1, 2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(rnd.IntN(32))
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) ^ n, uint8(y*255/h) + n, uint8((x + y) * 255 / (w + h)), 255})
		}
	}
	return img
}
