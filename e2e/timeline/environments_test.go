package timeline

import (
	"path/filepath"
	"testing"
	"time"
)

// Three lanes render to one PNG of the size asked, each version's line in
// its colour.
func TestRenderLanes(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	lane := func(name string, start float64) Lane {
		return Lane{
			Title: name,
			Series: []Series{
				{Label: "v1", Points: []Point{{at(0), 100}, {at(start + 5), 50}, {at(start + 10), 0}}},
				{Label: "v2", Points: []Point{{at(0), 0}, {at(start + 5), 50}, {at(start + 10), 100}}},
			},
			Marks: []Mark{{At: at(start), Label: "v2 deployed"}, {At: at(start + 10), Label: "promoted"}},
		}
	}
	path := filepath.Join(t.TempDir(), "lanes.png")
	if err := RenderLanes(path, "one image", []Lane{lane("dev", 0), lane("staging", 12), lane("prod", 30)}, t0, at(45), 1000, 900); err != nil {
		t.Fatal(err)
	}
	img := readPNG(t, path, 1000, 900)
	v2 := 0
	for y := 0; y < 900; y++ {
		for x := 0; x < 1000; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if c := seriesColors[1]; r>>8 == uint32(c.R) && g>>8 == uint32(c.G) && b>>8 == uint32(c.B) {
				v2++
			}
		}
	}
	if v2 < 300 {
		t.Errorf("%d pixels of v2's colour, want a line in each of three lanes", v2)
	}
}
