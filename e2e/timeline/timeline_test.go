package timeline

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A rollback timeline renders to a PNG of the size asked, with the weight
// line drawn in its colour.
func TestRenderRollback(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tl := Timeline{
		Title:      "v2 rolled back",
		Weight:     []Point{{at(0), 0}, {at(5), 1}, {at(10), 5}, {at(15), 25}, {at(18), 0}, {at(25), 0}},
		ErrorRate:  []Point{{at(5), 0}, {at(10), 0.001}, {at(15), 0.002}, {at(17), 0.1}, {at(20), 0.1}},
		Threshold:  0.01,
		RollbackAt: at(18),
	}
	path := filepath.Join(t.TempDir(), "rollback.png")
	if err := Render(path, tl, 900, 600); err != nil {
		t.Fatal(err)
	}
	img := readPNG(t, path, 900, 600)
	blue := 0
	for y := 0; y < 600; y++ {
		for x := 0; x < 900; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 == 30 && g>>8 == 100 && b>>8 == 200 {
				blue++
			}
		}
	}
	if blue < 100 {
		t.Errorf("%d pixels of the weight line's colour, want a drawn line", blue)
	}
	if err := Render(path, Timeline{Title: "empty"}, 100, 100); err == nil {
		t.Errorf("an empty timeline rendered without error")
	}
}

// readPNG decodes the PNG at path and checks it is w by h pixels.
func readPNG(t *testing.T, path string, w, h int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("size %v, want %dx%d", b, w, h)
	}
	return img
}
