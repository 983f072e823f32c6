package thumbnail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"
)

// maxGIFFrames bounds the frames an animated thumbnail is made of, whatever their size.
const maxGIFFrames = 1000

// GenerateAnimated renders an animated GIF at size s as an animated GIF (the spec's
// animated=true): every frame composed as a viewer shows it (disposal methods applied),
// scaled like a still thumbnail, mapped back to the source's palette, with its delay and
// the loop count kept. Before anything is decoded, the frames are counted from the GIF's
// block structure; an animation whose frames hold more than maxPixels pixels in all
// (frames × canvas), or has more than maxGIFFrames frames, is not decoded whole: it gives
// its first frame, what Generate gives (which refuses a canvas over maxPixels). So does
// content that is no GIF of two frames or more (a still GIF, a JPEG, PNG or WebP), as the
// spec asks when the media cannot be animated. Animated WebP cannot be decoded by
// golang.org/x/image/webp (it reads no animation frames), so it is no exception here.
func GenerateAnimated(r io.ReadSeeker, s Size, maxPixels int64) (*Result, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if format != "gif" {
		return Generate(r, s, maxPixels)
	}
	frames, err := countGIFFrames(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if frames < 2 {
		return Generate(r, s, maxPixels)
	}
	canvas := int64(cfg.Width) * int64(cfg.Height)
	if canvas <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrNotImage)
	}
	if frames > maxGIFFrames || canvas*int64(frames) > maxPixels {
		return Generate(r, s, maxPixels) // too costly to animate: the first frame, if that fits
	}
	g, err := gif.DecodeAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	out, err := animate(g, s)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, out); err != nil {
		return nil, fmt.Errorf("thumbnail: encoding: %w", err)
	}
	return &Result{Data: buf.Bytes(), ContentType: "image/gif", Width: out.Config.Width, Height: out.Config.Height}, nil
}

// animate composes g's frames on its canvas (transparent where nothing is drawn, as
// browsers show it) and scales each composition to s. Every output frame is whole and is
// cleared before the next (DisposalBackground), so transparency stays right.
func animate(g *gif.GIF, s Size) (*gif.GIF, error) {
	if len(g.Image) == 0 {
		return nil, fmt.Errorf("%w: no frames", ErrNotImage)
	}
	canvas := image.NewRGBA(image.Rect(0, 0, g.Config.Width, g.Config.Height))
	w, h := Dimensions(g.Config.Width, g.Config.Height, s)
	q := newQuantizer(g.Image[0].Palette)
	out := &gif.GIF{LoopCount: g.LoopCount, Config: image.Config{ColorModel: q.pal, Width: w, Height: h}}
	var saved *image.RGBA
	for i, fr := range g.Image {
		disposal := byte(gif.DisposalNone)
		if i < len(g.Disposal) {
			disposal = g.Disposal[i]
		}
		if disposal == gif.DisposalPrevious {
			saved = image.NewRGBA(canvas.Rect)
			copy(saved.Pix, canvas.Pix)
		}
		draw.Draw(canvas, fr.Bounds(), fr, fr.Bounds().Min, draw.Over)
		scaled := render(canvas, s)
		out.Image = append(out.Image, q.paletted(scaled))
		delay := 0
		if i < len(g.Delay) {
			delay = g.Delay[i]
		}
		out.Delay = append(out.Delay, delay)
		out.Disposal = append(out.Disposal, gif.DisposalBackground)
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, fr.Bounds(), image.Transparent, image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			canvas = saved
		}
	}
	return out, nil
}

// quantizer maps scaled (blended) pixels back to a palette of at most 256 colours: the
// source's, with one transparent entry. Lookups are cached by colour at 5 bits a channel,
// so each of the 32768 cells is searched once.
type quantizer struct {
	pal         color.Palette
	transparent uint8
	cache       [1 << 15]int16
}

func newQuantizer(src color.Palette) *quantizer {
	q := &quantizer{}
	pal := make(color.Palette, 0, 256)
	t := -1
	for _, c := range src {
		if len(pal) == 256 {
			break
		}
		if _, _, _, a := c.RGBA(); a == 0 && t < 0 {
			t = len(pal)
		}
		pal = append(pal, c)
	}
	switch {
	case t >= 0:
	case len(pal) < 256:
		t = len(pal)
		pal = append(pal, color.RGBA{})
	default:
		t = 255
		pal[255] = color.RGBA{}
	}
	q.pal, q.transparent = pal, uint8(t)
	for i := range q.cache {
		q.cache[i] = -1
	}
	return q
}

// paletted maps img to q's palette: pixels under half opaque become the transparent entry,
// the others the nearest opaque colour.
func (q *quantizer) paletted(img *image.RGBA) *image.Paletted {
	b := img.Bounds()
	out := image.NewPaletted(b, q.pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		src := img.Pix[img.PixOffset(b.Min.X, y):img.PixOffset(b.Max.X, y)]
		dst := out.Pix[out.PixOffset(b.Min.X, y):out.PixOffset(b.Max.X, y)]
		for x := range dst {
			p := src[x*4 : x*4+4]
			if p[3] < 128 {
				dst[x] = q.transparent
				continue
			}
			// Premultiplied: undo the alpha of a partly transparent edge.
			r, g, bl := unpremultiply(p[0], p[3]), unpremultiply(p[1], p[3]), unpremultiply(p[2], p[3])
			key := int(r>>3)<<10 | int(g>>3)<<5 | int(bl>>3)
			if q.cache[key] < 0 {
				q.cache[key] = int16(q.nearest(r&^7|4, g&^7|4, bl&^7|4))
			}
			dst[x] = uint8(q.cache[key])
		}
	}
	return out
}

func unpremultiply(c, a uint8) uint8 {
	if a == 0xff {
		return c
	}
	return uint8(min(255, (int(c)*255+int(a)/2)/int(a)))
}

// nearest is the index of the opaque palette colour closest to r, g, b.
func (q *quantizer) nearest(r, g, b uint8) int {
	best, bestD := 0, -1
	for i, c := range q.pal {
		if i == int(q.transparent) {
			continue
		}
		cr, cg, cb, _ := c.RGBA()
		dr, dg, db := int(cr>>8)-int(r), int(cg>>8)-int(g), int(cb>>8)-int(b)
		if d := dr*dr + dg*dg + db*db; bestD < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// errGIF: the GIF's block structure is broken.
var errGIF = errors.New("malformed GIF")

// countGIFFrames counts the images of a GIF by walking its blocks (header, screen
// descriptor, colour tables, extensions, image descriptors with their data sub-blocks)
// without decoding any: cheap, and it tells an animation's cost before it is decoded.
// It stops counting past maxGIFFrames.
func countGIFFrames(r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	var hdr [13]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, err
	}
	if string(hdr[:6]) != "GIF87a" && string(hdr[:6]) != "GIF89a" {
		return 0, errGIF
	}
	if hdr[10]&0x80 != 0 {
		if _, err := br.Discard(3 << ((hdr[10] & 7) + 1)); err != nil {
			return 0, err
		}
	}
	skipSubBlocks := func() error {
		for {
			n, err := br.ReadByte()
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if _, err := br.Discard(int(n)); err != nil {
				return err
			}
		}
	}
	frames := 0
	for frames <= maxGIFFrames {
		intro, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && frames > 0 {
				return frames, nil // no trailer: the decoder stops there too
			}
			return 0, err
		}
		switch intro {
		case 0x21: // extension: label, sub-blocks
			if _, err := br.ReadByte(); err != nil {
				return 0, err
			}
			if err := skipSubBlocks(); err != nil {
				return 0, err
			}
		case 0x2c: // image descriptor, local colour table, LZW code size, sub-blocks
			var d [9]byte
			if _, err := io.ReadFull(br, d[:]); err != nil {
				return 0, err
			}
			if d[8]&0x80 != 0 {
				if _, err := br.Discard(3 << ((d[8] & 7) + 1)); err != nil {
					return 0, err
				}
			}
			if _, err := br.ReadByte(); err != nil {
				return 0, err
			}
			if err := skipSubBlocks(); err != nil {
				return 0, err
			}
			frames++
		case 0x3b: // trailer
			return frames, nil
		default:
			return 0, errGIF
		}
	}
	return frames, nil
}
