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

// Lane is one environment's panel: the traffic share of each version as
// step lines, and the moments that matter as labelled vertical lines.
type Lane struct {
	Title  string
	Series []Series
	Marks  []Mark
}

// Series is one version's weight in percent over time.
type Series struct {
	Label  string
	Points []Point
}

// Mark is a moment of a lane.
type Mark struct {
	At    time.Time
	Label string
}

// seriesColors are the lines' colours, in the order of a lane's series.
var seriesColors = []color.RGBA{
	{R: 150, G: 150, B: 150, A: 255},
	{R: 30, G: 100, B: 200, A: 255},
	{R: 200, G: 60, B: 30, A: 255},
	{R: 40, G: 150, B: 60, A: 255},
}

// RenderLanes draws lanes one above the other on a shared time axis (seconds
// since from, up to to) and writes a PNG of width × height pixels.
func RenderLanes(path, title string, lanes []Lane, from, to time.Time, width, height int) error {
	if len(lanes) == 0 {
		return fmt.Errorf("timeline %q has no lanes", title)
	}
	secs := func(t time.Time) float64 { return t.Sub(from).Seconds() }
	end := secs(to)
	rows := make([][]*plot.Plot, 0, len(lanes))
	for i, l := range lanes {
		p := plot.New()
		p.Title.Text = l.Title
		if i == 0 && title != "" {
			p.Title.Text = title + "\n" + l.Title
		}
		p.Y.Label.Text = "weight %"
		if i == len(lanes)-1 {
			p.X.Label.Text = "seconds"
		}
		p.Add(plotter.NewGrid())
		for j, s := range l.Series {
			if len(s.Points) == 0 {
				continue
			}
			pts := steps(s.Points, secs)
			pts = append(pts, plotter.XY{X: end, Y: s.Points[len(s.Points)-1].V})
			line, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			line.Color = seriesColors[j%len(seriesColors)]
			line.Width = vg.Points(2)
			p.Add(line)
			p.Legend.Add(s.Label, line)
		}
		var labels plotter.XYLabels
		var right []bool // labels in the last third read leftwards from their line
		for k, m := range l.Marks {
			x := secs(m.At)
			ml, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 125}})
			if err != nil {
				return err
			}
			ml.Color = color.RGBA{R: 120, G: 0, B: 140, A: 255}
			ml.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(ml)
			// Alternate heights, so that close moments stay readable.
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: 122 - float64(k%3)*8})
			labels.Labels = append(labels.Labels, " "+m.Label+" ")
			right = append(right, x > end*2/3)
		}
		if len(labels.Labels) > 0 {
			lb, err := plotter.NewLabels(labels)
			if err != nil {
				return err
			}
			for k := range lb.TextStyle {
				lb.TextStyle[k].Color = color.RGBA{R: 120, G: 0, B: 140, A: 255}
				lb.TextStyle[k].Font.Size = vg.Points(8)
				if right[k] {
					lb.TextStyle[k].XAlign = draw.XRight
				}
			}
			p.Add(lb)
		}
		// Adding data widens the axes to it: fix them last. The room
		// above 100 % holds the mark labels and, above them, the legend.
		p.X.Min, p.X.Max = 0, end
		p.Y.Min, p.Y.Max = 0, 165
		p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25}, {Value: 50, Label: "50"}, {Value: 75}, {Value: 100, Label: "100"}})
		p.Legend.Top = true
		rows = append(rows, []*plot.Plot{p})
	}
	img := vgimg.New(vg.Length(width)*vg.Inch/vgimg.DefaultDPI, vg.Length(height)*vg.Inch/vgimg.DefaultDPI)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(lanes), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	return savePNG(path, img)
}
