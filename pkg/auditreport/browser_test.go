package auditreport

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumInstall is how CI gets a browser for TestBrowser on Debian. Its
// recommended packages bring fonts-liberation, which the page's font
// stacks fall back to.
const chromiumInstall = "apt-get update && apt-get install -y chromium"

// screenshotPath is the README's screenshot, rewritten by go test -update.
const screenshotPath = "../../docs/report-screenshot.png"

// findChromium returns the browser to test with: $CHROMIUM, or chromium
// (or Google Chrome, which takes the same flags) on PATH. Without one the
// test is skipped, except on CI (CI=true), where a missing browser must not
// pass silently.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is not on PATH; CI must have it (%s)", chromiumInstall)
	}
	t.Skipf("chromium is not on PATH (install it with %s, or set CHROMIUM)", chromiumInstall)
	return ""
}

// runChromium runs headless chromium with a fresh profile and no network
// features, and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestBrowser opens the sample report in a real browser: the DOM chromium
// builds has the verdict, every chain and every timeline bar, and a
// screenshot is a real picture with the timeline's colours in it.
func TestBrowser(t *testing.T) {
	bin := findChromium(t)
	rep := sampleReport(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := WriteFile(page, rep, testRun); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()

	t.Run("dom", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", pageURL))
		if !strings.Contains(dom, `id="verdict-word">VALID</div>`) {
			t.Errorf("verdict VALID not in the DOM:\n%.2000s", dom)
		}
		if got := strings.Count(dom, `<tr class="chain-row`); got != len(rep.Chains) {
			t.Errorf("%d chain rows, want %d", got, len(rep.Chains))
		}
		for _, c := range rep.Chains {
			id := anchorID("chain-", c.ID)
			row := regexp.MustCompile(`<tr class="chain-row[^"]*" id="` + regexp.QuoteMeta(id) + `">(.*?)</tr>`).FindStringSubmatch(dom)
			if row == nil {
				t.Errorf("no table row for chain %s", c.ID)
				continue
			}
			for _, cell := range []string{c.Account, c.Region, c.Trail} {
				if !strings.Contains(row[1], cell) {
					t.Errorf("chain %s row lacks %q: %s", c.ID, cell, row[1])
				}
			}
		}
		tl := newTimeline(rep)
		segs := 0
		for _, r := range tl.Rows {
			segs += len(r.Segs)
		}
		if got := strings.Count(dom, `<svg class="tl-bar"`); got != len(rep.Chains) {
			t.Errorf("%d timeline bars, want %d", got, len(rep.Chains))
		}
		if got := strings.Count(dom, `<rect class="seg `); got != segs || segs < 2*len(rep.Chains) {
			t.Errorf("%d timeline segments in the DOM, want %d", got, segs)
		}
		// The sample's four explained gaps are drawn grey, none amber.
		if got := strings.Count(dom, `<rect class="seg s-gap"`); got != 4 {
			t.Errorf("%d explained-gap segments, want 4", got)
		}
		if strings.Contains(dom, `<rect class="seg s-gapu"`) || strings.Contains(dom, "UNEXPLAINED") {
			t.Error("the sample's gaps are explained, but the page shows an unexplained one")
		}
		if got := strings.Count(dom, `<tr class="finding">`); got != len(rep.Findings) {
			t.Errorf("%d finding rows, want %d", got, len(rep.Findings))
		}
		if strings.Contains(dom, "<script") {
			t.Error("the page has a script")
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(dir, "report.png")
		runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", pageURL)
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot is not a PNG: % x", data[:min(8, len(data))])
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
			t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
		}
		st := pixelStats(img)
		if st.variance < 500 || st.colours < 50 {
			t.Errorf("screenshot looks blank: luminance variance %.0f, %d colours", st.variance, st.colours)
		}
		// The verified bars (#2e7d32) fill a visible area.
		if st.green < 20000 {
			t.Errorf("only %d pixels of the verified colour: no timeline drawn?", st.green)
		}
		if *update {
			if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(screenshotPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

type stats struct {
	variance float64
	colours  int
	green    int
}

// pixelStats measures a picture: the variance of its luminance, how many
// distinct colours it has, and how many pixels are the verified green.
func pixelStats(img image.Image) stats {
	b := img.Bounds()
	var sum, sumSq float64
	n := 0
	colours := map[uint32]bool{}
	green := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r8, g8, b8 := r>>8, g>>8, bl>>8
			l := 0.2126*float64(r8) + 0.7152*float64(g8) + 0.0722*float64(b8)
			sum += l
			sumSq += l * l
			n++
			colours[r8<<16|g8<<8|b8] = true
			if near(r8, 0x2e) && near(g8, 0x7d) && near(b8, 0x32) {
				green++
			}
		}
	}
	mean := sum / float64(n)
	return stats{variance: sumSq/float64(n) - mean*mean, colours: len(colours), green: green}
}

func near(a, b uint32) bool { return a+6 >= b && a <= b+6 }
