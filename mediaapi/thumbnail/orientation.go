package thumbnail

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"
)

// maxJPEGHeader bounds how much of a JPEG is read looking for its EXIF orientation (the
// APP1 segment comes before the image data; 64 KiB is its largest size).
const maxJPEGHeader = 128 << 10

// jpegOrientation reads the EXIF orientation (1–8) of a JPEG: how the stored pixels must be
// turned to be shown upright, as cameras and phones record it. 1 (as stored) when there is
// none or it does not parse.
func jpegOrientation(r io.Reader) int {
	head, _ := io.ReadAll(io.LimitReader(r, maxJPEGHeader))
	if len(head) < 4 || head[0] != 0xff || head[1] != 0xd8 {
		return 1
	}
	for p := 2; p+4 <= len(head); {
		if head[p] != 0xff {
			return 1
		}
		marker := head[p+1]
		if marker == 0xda || marker == 0xd9 { // start of scan, end of image: no EXIF before
			return 1
		}
		n := int(binary.BigEndian.Uint16(head[p+2:]))
		if n < 2 || p+2+n > len(head) {
			return 1
		}
		seg := head[p+4 : p+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return exifOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 of IFD0 in a TIFF structure.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 1
	}
	ifd := int(bo.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > len(tiff) {
		return 1
	}
	count := int(bo.Uint16(tiff[ifd:]))
	for i := 0; i < count; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(tiff) {
			return 1
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 { // SHORT
			if o := int(bo.Uint16(tiff[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// orient turns src, as stored, upright for EXIF orientation o (2–8; 1 returns src).
// Orientations 5–8 swap width and height.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			var sx, sy int
			switch o {
			case 2: // mirrored
				sx, sy = sw-1-x, y
			case 3: // turned 180°
				sx, sy = sw-1-x, sh-1-y
			case 4: // flipped
				sx, sy = x, sh-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // to turn 90° clockwise
				sx, sy = y, sh-1-x
			case 7: // transversed
				sx, sy = sw-1-y, sh-1-x
			case 8: // to turn 90° anticlockwise
				sx, sy = sw-1-y, x
			}
			si, di := src.PixOffset(sx+src.Rect.Min.X, sy+src.Rect.Min.Y), dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
