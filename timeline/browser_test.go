//go:build unix

package timeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests open the page in a real headless browser and read back the
// DOM its script built. They need Chromium or Chrome and skip without.

// findBrowser returns the path of a Chromium or Chrome, or skips the test.
func findBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("a browser test: not in -short mode")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no browser is installed (looked for chromium, chromium-browser and google-chrome on PATH); " +
		"install one to run this test, e.g. `apt-get install chromium` on Debian")
	return ""
}

// runBrowser runs the browser headless on url with args and returns what
// it printed. The browser runs in a process group of its own, in a
// temporary home and profile, and the whole group is killed when it ends
// or times out, so that none of its helper processes outlives the test.
func runBrowser(t *testing.T, browser, url string, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + filepath.Join(home, "profile"),
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
		"--disable-background-networking", "--disable-component-update", "--disable-breakpad",
		"--virtual-time-budget=5000", // let the page's script and timers run to the end
		"--window-size=1280,800",
	}, args...)
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // a helper holding stdout open does not hang Wait
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		// The browser is gone; its group may not be. ESRCH means it is.
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("killing the browser's process group: %v", kerr)
		}
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string { return s[max(len(s)-n, 0):] }

// driver is appended to the page under test: it works the page as a person
// would (hover, click, the zoom buttons, the wheel, a drag) and writes what
// it saw onto the <html> element for the test to read from the DOM.
const driver = `<script>
(async function () {
  const out = document.documentElement.dataset, $ = (id) => document.getElementById(id);
  // Headless browsers draw frames seldom: wait past the page's fallback.
  const frame = () => new Promise((done) => setTimeout(done, 200));
  const view = () => $('view').textContent;
  out.drawnAtFirst = $('timeline').dataset.drawn;
  try {
    const seg = document.querySelector('#lanes rect[data-r="2"]');
    const box = seg.getBoundingClientRect();
    const at = { bubbles: true, clientX: box.x + 1, clientY: box.y + box.height / 2 };
    seg.dispatchEvent(new MouseEvent('mousemove', at));
    out.tip = $('tip').hidden ? 'hidden' : $('tip-body').textContent;
    seg.dispatchEvent(new MouseEvent('click', at));
    out.details = $('details').hidden ? 'hidden' : $('details-body').textContent;
    const start = view();
    $('zoom-in').click(); await frame();
    out.zoomIn = view() !== start;
    $('zoom-reset').click(); await frame();
    out.reset = view() === start;
    const plot = $('plot').getBoundingClientRect();
    $('plot').dispatchEvent(new WheelEvent('wheel', { bubbles: true, cancelable: true, deltaY: -500,
      clientX: plot.x + plot.width / 3, clientY: plot.y + 30 }));
    await frame();
    const zoomed = view();
    out.wheel = zoomed !== start;
    $('plot').dispatchEvent(new MouseEvent('mousedown', { bubbles: true, button: 0, clientX: plot.x + 300, clientY: plot.y + 30 }));
    window.dispatchEvent(new MouseEvent('mousemove', { clientX: plot.x + 200, clientY: plot.y + 30 }));
    window.dispatchEvent(new MouseEvent('mouseup', {}));
    await frame();
    out.drag = view() !== zoomed;
  } catch (e) {
    out.driverError = String(e);
  }
  out.driverDone = 'true';
})();
</script>
</body>`

// writeDrivenPage writes the page for events, with the driver, to a file
// in a temporary directory and returns its file:// URL.
func writeDrivenPage(t *testing.T, events []Event, title string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, events, title); err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(b.String(), "</body>", driver, 1)
	path := filepath.Join(t.TempDir(), "timeline.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

var attrRE = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)

// tagAttrs returns the attributes of the first start tag in dom that
// matches re.
func tagAttrs(t *testing.T, dom string, re string) map[string]string {
	t.Helper()
	tag := regexp.MustCompile(re).FindString(dom)
	if tag == "" {
		t.Fatalf("no tag %s in the DOM:\n%s", re, tail(dom, 3000))
	}
	attrs := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
		attrs[m[1]] = m[2]
	}
	return attrs
}

// textEscape escapes s as a browser serializes a text node.
func textEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}

func TestBrowserRendersPage(t *testing.T) {
	browser := findBrowser(t)
	events := hostileStream()
	tl := reconstruct(events)
	dom := string(runBrowser(t, browser, writeDrivenPage(t, events, "browser test"), "--dump-dom"))

	root := tagAttrs(t, dom, `<div id="timeline"[^>]*>`)
	for name, want := range map[string]int{
		"data-lanes": len(tl.lanes), "data-segments": tl.segments(), "data-marks": 5, "data-polls": 1, "data-posts": 1,
	} {
		if root[name] != strconv.Itoa(want) {
			t.Errorf("%s=%q, want %d", name, root[name], want)
		}
	}
	if root["data-rendered"] != "true" {
		t.Fatalf("the page did not finish rendering: %v", root)
	}
	got := tagAttrs(t, dom, `<html[^>]*>`)
	if n, _ := strconv.Atoi(got["data-drawn-at-first"]); n < tl.segments() {
		t.Errorf("%d elements drawn, want at least the %d segments: all fit at this zoom", n, tl.segments())
	}

	labels := []string{"event loop"}
	for _, l := range tl.lanes {
		labels = append(labels, l.label())
	}
	for _, label := range labels {
		if !strings.Contains(dom, ">"+textEscape(label)+"</div>") {
			t.Errorf("no lane labelled %q", label)
		}
	}
	for s := range numStates {
		if !strings.Contains(dom, `<span class="sw s-`+s.key()+`"></span>`+s.title()+"</li>") {
			t.Errorf("the legend lacks %s", s.title())
		}
	}

	// The hostile names are text, and ran nothing.
	if strings.Contains(dom, "<img") || strings.Contains(dom, "<svg onload") {
		t.Errorf("a hostile name became markup")
	}
	if got["data-pwned"] != "" {
		t.Errorf("a hostile name ran script: data-pwned=%s", got["data-pwned"])
	}

	// What the driver saw.
	if got["data-driver-done"] != "true" || got["data-driver-error"] != "" {
		t.Fatalf("the driver did not finish: %v", got)
	}
	for _, want := range []string{"task", textEscape(hostile) + " #2", "state", "start", "duration"} {
		if !strings.Contains(got["data-tip"], want) {
			t.Errorf("hovering a segment showed %q, want it to hold %q", got["data-tip"], want)
		}
	}
	if got["data-details"] != got["data-tip"] {
		t.Errorf("clicking it pinned %q, want what the tooltip showed, %q", got["data-details"], got["data-tip"])
	}
	for _, what := range []string{"data-zoom-in", "data-reset", "data-wheel", "data-drag"} {
		if got[what] != "true" {
			t.Errorf("%s: the view did not change as it should (%v)", what, got)
		}
	}
}

// TestBrowserManySegments: a page with tens of thousands of segments
// renders, and draws far fewer elements than it has segments.
func TestBrowserManySegments(t *testing.T) {
	browser := findBrowser(t)
	events := syntheticStream(100, 40000)
	tl := reconstruct(events)
	if tl.segments() < 30000 {
		t.Fatalf("only %d segments: make the stream longer", tl.segments())
	}
	began := time.Now()
	dom := string(runBrowser(t, browser, writeDrivenPage(t, events, "many"), "--dump-dom"))
	root := tagAttrs(t, dom, `<div id="timeline"[^>]*>`)
	if root["data-rendered"] != "true" || root["data-segments"] != strconv.Itoa(tl.segments()) {
		t.Fatalf("root %v, want %d segments rendered", root, tl.segments())
	}
	drawn, _ := strconv.Atoi(root["data-drawn"])
	t.Logf("%d segments in %d lanes, %d elements drawn, %v in the browser", tl.segments(), len(tl.lanes), drawn, time.Since(began))
	if drawn == 0 || drawn > tl.segments()/2 {
		t.Errorf("%d elements drawn for %d segments: narrow segments should merge", drawn, tl.segments())
	}
	if got := tagAttrs(t, dom, `<html[^>]*>`); got["data-driver-done"] != "true" || got["data-driver-error"] != "" {
		t.Errorf("the driver did not finish: %v", got)
	}
}

func TestBrowserScreenshot(t *testing.T) {
	browser := findBrowser(t)
	shot := filepath.Join(t.TempDir(), "shot.png")
	runBrowser(t, browser, writeDrivenPage(t, sampleStream(), "screenshot"), "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	// The page is drawn: the colour of running segments is on it.
	b := img.Bounds()
	found := false
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if fmt.Sprintf("%02x%02x%02x", r>>8, g>>8, bl>>8) == "2e7d32" {
				found = true
				break
			}
		}
	}
	if b.Dx() < 100 || b.Dy() < 100 || !found {
		t.Errorf("a %v screenshot without a running segment's colour", b)
	}
}

// TestBrowserResources: each resource has its row under the loop's, and
// hovering a hold says who held it.
func TestBrowserResources(t *testing.T) {
	browser := findBrowser(t)
	events := append(resourceStream(), ev(13, Acquire, 3).label(hostile))
	// The driver hovers row 2: the loop is row 0, then the resources by
	// name, the hostile one ("<...") first and "fork 1" second.
	url := writeDrivenPage(t, events, "resources")
	dom := string(runBrowser(t, browser, url, "--dump-dom"))
	root := tagAttrs(t, dom, `<div id="timeline"[^>]*>`)
	if root["data-rendered"] != "true" || root["data-resources"] != "5" {
		t.Fatalf("root %v, want 5 resource rows rendered", root)
	}
	for _, label := range []string{"fork 1", "sem", "sem (2)", "lost", hostile} {
		if !strings.Contains(dom, `<div class="lane-label resource" title="`) ||
			!strings.Contains(dom, ">"+textEscape(label)+"</div>") {
			t.Errorf("no resource row labelled %q", label)
		}
	}
	got := tagAttrs(t, dom, `<html[^>]*>`)
	if got["data-driver-done"] != "true" || got["data-driver-error"] != "" {
		t.Fatalf("the driver did not finish: %v", got)
	}
	for _, want := range []string{"resourcefork 1", "held byt1 #1", "duration3 µs"} {
		if !strings.Contains(got["data-tip"], want) {
			t.Errorf("hovering a hold showed %q, want it to hold %q", got["data-tip"], want)
		}
	}
	if got["data-pwned"] != "" {
		t.Errorf("a hostile resource name ran script")
	}
}
