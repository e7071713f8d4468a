// Package timeline draws a rollout as a PNG: the canary weight as a step
// line, the error rate against its threshold on a second panel, and the
// moment of a rollback, from series read out of Prometheus. The end-to-end
// suite saves one per scenario beside e2e/RESULTS.md.
package timeline

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Timeline is what one scenario showed.
type Timeline struct {
	Title string
	// Weight is the canary weight in percent (ramp_rollout_canary_weight).
	Weight []Point
	// ErrorRate is the canary's error rate as the analysis saw it.
	ErrorRate []Point
	// Threshold is the error-rate bound (ramp_analysis_threshold), 0 for none.
	Threshold float64
	// RollbackAt is when the route went back to 0 % canary; zero when none.
	RollbackAt time.Time
}

// Render writes the timeline as a PNG of width × height pixels.
func Render(path string, tl Timeline, width, height int) error {
	if len(tl.Weight) == 0 {
		return fmt.Errorf("timeline %q has no weight samples", tl.Title)
	}
	t0 := tl.Weight[0].T
	for _, p := range tl.ErrorRate {
		if p.T.Before(t0) {
			t0 = p.T
		}
	}
	secs := func(t time.Time) float64 { return t.Sub(t0).Seconds() }

	top := plot.New()
	top.Title.Text = tl.Title
	top.Y.Label.Text = "canary weight %"
	top.Y.Min, top.Y.Max = 0, 105
	wl, err := plotter.NewLine(steps(tl.Weight, secs))
	if err != nil {
		return err
	}
	wl.Color = color.RGBA{R: 30, G: 100, B: 200, A: 255}
	wl.Width = vg.Points(2)
	top.Add(plotter.NewGrid(), wl)
	top.Legend.Add("weight", wl)

	bottom := plot.New()
	bottom.X.Label.Text = "seconds"
	bottom.Y.Label.Text = "error rate"
	bottom.Add(plotter.NewGrid())
	if len(tl.ErrorRate) > 0 {
		el, err := plotter.NewLine(xy(tl.ErrorRate, secs))
		if err != nil {
			return err
		}
		el.Color = color.RGBA{R: 200, G: 60, B: 30, A: 255}
		el.Width = vg.Points(1.5)
		bottom.Add(el)
		bottom.Legend.Add("error rate", el)
	}
	end := secs(tl.Weight[len(tl.Weight)-1].T)
	if n := len(tl.ErrorRate); n > 0 {
		end = max(end, secs(tl.ErrorRate[n-1].T))
	}
	if tl.Threshold > 0 {
		th, err := plotter.NewLine(plotter.XYs{{X: 0, Y: tl.Threshold}, {X: end, Y: tl.Threshold}})
		if err != nil {
			return err
		}
		th.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		th.Color = color.Black
		bottom.Add(th)
		bottom.Legend.Add(fmt.Sprintf("threshold %g", tl.Threshold), th)
	}
	if !tl.RollbackAt.IsZero() {
		x := secs(tl.RollbackAt)
		for _, p := range []*plot.Plot{top, bottom} {
			ymax := p.Y.Max
			if p == bottom {
				ymax = max(tl.Threshold*2, maxV(tl.ErrorRate), 0.01)
			}
			rb, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
			if err != nil {
				return err
			}
			rb.Color = color.RGBA{R: 160, G: 0, B: 160, A: 255}
			rb.Width = vg.Points(1.5)
			p.Add(rb)
			if p == top {
				p.Legend.Add("rollback", rb)
			}
		}
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, end
		p.Legend.Top = true
	}

	img := vgimg.New(vg.Length(width)*vg.Inch/vgimg.DefaultDPI, vg.Length(height)*vg.Inch/vgimg.DefaultDPI)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return savePNG(path, img)
}

// steps turns samples into a step line: each value holds until the next.
func steps(ps []Point, secs func(time.Time) float64) plotter.XYs {
	out := make(plotter.XYs, 0, 2*len(ps))
	for i, p := range ps {
		if i > 0 {
			out = append(out, plotter.XY{X: secs(p.T), Y: ps[i-1].V})
		}
		out = append(out, plotter.XY{X: secs(p.T), Y: p.V})
	}
	return out
}

func xy(ps []Point, secs func(time.Time) float64) plotter.XYs {
	out := make(plotter.XYs, len(ps))
	for i, p := range ps {
		out[i] = plotter.XY{X: secs(p.T), Y: p.V}
	}
	return out
}

func maxV(ps []Point) float64 {
	m := 0.0
	for _, p := range ps {
		m = max(m, p.V)
	}
	return m
}
