//go:build linux

package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// series is one line of the plot: frames/s at each of sizes.
type series struct {
	name   string
	fps    []float64
	rgb    color.RGBA
	labels int // print each point's value: above (1), below (-1), or not (0)
}

func plotSeries(res *results) []series {
	var ss []series
	add := func(k kind, rgb color.RGBA, labels int) {
		rs, ok := res.unicast[k]
		if !ok {
			return
		}
		s := series{name: k.String(), rgb: rgb, labels: labels}
		for _, r := range rs {
			s.fps = append(s.fps, r.fps())
		}
		ss = append(ss, s)
	}
	// l2fabric in each attach style, vde_switch, and the limit: the relay
	// over connected pairs (the other relays are in the report's table).
	add(l2fPair, color.RGBA{0x1f, 0x77, 0xb4, 0xff}, 1)
	add(l2fPeer, color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, 0)
	add(l2fListener, color.RGBA{0x94, 0x67, 0xbd, 0xff}, 0)
	add(vde, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, 1)
	add(relayConn, color.RGBA{0x66, 0x66, 0x66, 0xff}, -1)
	return ss
}

func plotTitle(res *results) string {
	return fmt.Sprintf("Known-unicast forwarding rate, unix datagram VM sockets (%s, %d cores)", res.machine.cpu, res.machine.cores)
}

// plot draws frames/s by frame size for l2fabric (each attach style),
// vde_switch and the relays into path, with gnuplot when it is installed (Debian's
// gnuplot-nox) and by hand otherwise. It returns what drew it.
func plot(res *results, path string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	ss := plotSeries(res)
	if gp, err := exec.LookPath("gnuplot"); err == nil {
		var firstErr error
		for _, term := range []string{"pngcairo size 960,600 font 'sans,11'", "png size 960,600"} {
			err := gnuplot(gp, term, res, ss, path)
			if err == nil {
				return "gnuplot", nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		logf("gnuplot failed (%v): drawing the plot by hand", firstErr)
	}
	return "image/png (gnuplot not installed)", drawPNG(res, ss, path)
}

func gnuplot(gp, term string, res *results, ss []series, path string) error {
	var s strings.Builder
	fmt.Fprintf(&s, "$data << EOD\n")
	for i, size := range res.sizes {
		fmt.Fprintf(&s, "%d", size)
		for _, x := range ss {
			fmt.Fprintf(&s, " %g", x.fps[i]/1e3)
		}
		fmt.Fprintln(&s)
	}
	fmt.Fprintf(&s, "EOD\n")
	fmt.Fprintf(&s, "set terminal %s\nset termoption noenhanced\nset output %q\n", term, path)
	fmt.Fprintf(&s, "set title %q\n", plotTitle(res))
	fmt.Fprintf(&s, "set xlabel 'frame size (bytes)'\nset ylabel 'thousand frames/s'\n")
	ymax := 0.0
	for _, x := range ss {
		for _, v := range x.fps {
			ymax = max(ymax, v/1e3)
		}
	}
	fmt.Fprintf(&s, "set grid ytics\nset key outside below horizontal box\nset bmargin 7\nset xlabel offset 0,0.3\nset yrange [0:%g]\nset xrange [0:1600]\n", 1.12*ymax)
	var tics []string
	for _, size := range res.sizes {
		tics = append(tics, fmt.Sprint(size))
	}
	fmt.Fprintf(&s, "set xtics (%s)\n", strings.Join(tics, ", "))
	var plots []string
	for i, x := range ss {
		c := fmt.Sprintf("#%02x%02x%02x", x.rgb.R, x.rgb.G, x.rgb.B)
		plots = append(plots, fmt.Sprintf("$data using 1:%d with linespoints lw 2 pt 7 ps 1.2 lc rgb %q title %q", i+2, c, x.name))
		if x.labels != 0 {
			plots = append(plots, fmt.Sprintf("$data using 1:%d:(sprintf('%%.0f', $%d)) with labels offset 0,%d tc rgb %q notitle", i+2, i+2, x.labels, c))
		}
	}
	fmt.Fprintf(&s, "plot %s\n", strings.Join(plots, ", \\\n  "))
	cmd := exec.Command(gp)
	cmd.Stdin = strings.NewReader(s.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(out.String()))
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return fmt.Errorf("gnuplot wrote no %s: %s", path, strings.TrimSpace(out.String()))
	}
	return nil
}

// canvas is an RGBA image with the few drawing operations the plot needs.
type canvas struct{ *image.RGBA }

func (c canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.SetRGBA(x, y, col)
		}
	}
}

// line draws a line w pixels thick.
func (c canvas) line(x0, y0, x1, y1, w int, col color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		x := x0 + (x1-x0)*i/n
		y := y0 + (y1-y0)*i/n
		c.rect(x-w/2, y-w/2, x-w/2+w, y-w/2+w, col)
	}
}

// text draws s in the 5x7 font at scale k, top-left at (x, y), and
// returns its width.
func (c canvas) text(x, y, k int, s string, col color.RGBA) int {
	s = strings.ToUpper(s)
	for i, r := range s {
		g := glyphs[r]
		for row := 0; row < 7; row++ {
			for bit := 0; bit < 5; bit++ {
				if g[row]&(0x10>>bit) != 0 {
					c.rect(x+i*6*k+bit*k, y+row*k, x+i*6*k+bit*k+k, y+row*k+k, col)
				}
			}
		}
	}
	return textWidth(s, k)
}

func textWidth(s string, k int) int { return len([]rune(s))*6*k - k }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// drawPNG draws the plot without gnuplot.
func drawPNG(res *results, ss []series, path string) error {
	const W, H = 960, 600
	const left, right, top, bottom = 90, 30, 60, 70
	c := canvas{image.NewRGBA(image.Rect(0, 0, W, H))}
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	black := color.RGBA{0, 0, 0, 0xff}
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	c.rect(0, 0, W, H, white)

	ymax := 0.0
	for _, s := range ss {
		for _, f := range s.fps {
			ymax = math.Max(ymax, f/1e3)
		}
	}
	step := niceStep(ymax / 5)
	ytop := math.Ceil(ymax*1.1/step) * step
	if ytop == 0 {
		ytop = 1
	}
	const xmax = 1600.0
	px := func(size float64) int { return left + int(size/xmax*float64(W-left-right)) }
	py := func(v float64) int { return H - bottom - int(v/ytop*float64(H-top-bottom)) }

	for v := 0.0; v <= ytop+step/2; v += step {
		y := py(v)
		c.line(left, y, W-right, y, 1, grid)
		label := fmt.Sprintf("%g", math.Round(v*100)/100)
		c.text(left-10-textWidth(label, 2), y-7, 2, label, black)
	}
	c.line(left, top, left, H-bottom, 2, black)
	c.line(left, H-bottom, W-right, H-bottom, 2, black)
	for _, size := range res.sizes {
		x := px(float64(size))
		c.line(x, H-bottom, x, H-bottom+6, 2, black)
		label := fmt.Sprint(size)
		c.text(x-textWidth(label, 2)/2, H-bottom+12, 2, label, black)
	}
	xl := "frame size (bytes)"
	c.text((W-textWidth(xl, 2))/2, H-bottom+40, 2, xl, black)
	c.text(10, top-30, 2, "thousand frames/s", black)
	title := fmt.Sprintf("Known-unicast forwarding rate (%s, %d cores)", res.machine.cpu, res.machine.cores)
	c.text((W-textWidth(title, 2))/2, 12, 2, title, black)

	for _, s := range ss {
		for i := range s.fps {
			x, y := px(float64(res.sizes[i])), py(s.fps[i]/1e3)
			if i > 0 {
				c.line(px(float64(res.sizes[i-1])), py(s.fps[i-1]/1e3), x, y, 3, s.rgb)
			}
			c.rect(x-5, y-5, x+6, y+6, s.rgb)
			if s.labels != 0 {
				c.text(x+8, y-18+22*max(-s.labels, 0), 2, fmt.Sprintf("%.0f", s.fps[i]/1e3), s.rgb)
			}
		}
	}
	// Legend, top right.
	lw := 0
	for _, s := range ss {
		lw = max(lw, textWidth(s.name, 2))
	}
	lx, ly := W-right-lw-50, top+10
	c.rect(lx-10, ly-10, W-right-5, ly+len(ss)*24, white)
	for i, s := range ss {
		c.rect(lx, ly+i*24, lx+24, ly+i*24+14, s.rgb)
		c.text(lx+34, ly+i*24, 2, s.name, black)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, c); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// glyphs is a 5x7 font: each row's five pixels in the low bits, the
// leftmost in bit 4.
var glyphs = map[rune][7]uint8{
	'0': {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
	'1': {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'2': {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
	'3': {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	'4': {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
	'5': {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	'6': {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
	'7': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8': {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
	'9': {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
	'A': {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'B': {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
	'C': {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},
	'D': {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
	'E': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
	'F': {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
	'G': {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
	'H': {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'I': {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'J': {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
	'K': {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
	'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	'M': {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
	'N': {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O': {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'P': {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
	'Q': {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},
	'R': {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
	'S': {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
	'T': {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U': {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'V': {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
	'W': {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},
	'X': {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
	'Y': {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},
	'Z': {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
	' ': {},
	'.': {0, 0, 0, 0, 0, 0x0C, 0x0C},
	',': {0, 0, 0, 0, 0x0C, 0x04, 0x08},
	'/': {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0},
	'(': {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
	')': {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
	'-': {0, 0, 0, 0x1F, 0, 0, 0},
	'_': {0, 0, 0, 0, 0, 0, 0x1F},
	':': {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0},
	'%': {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
	'=': {0, 0, 0x1F, 0, 0x1F, 0, 0},
}
