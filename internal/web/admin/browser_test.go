package admin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive, or skips the test; under CI=true a
// missing browser fails it (a skipped test there would be a broken
// promise).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI never skips the browser test, run scripts/deps.sh first")
	}
	t.Skip("chromium is not installed (scripts/deps.sh installs it)")
	return ""
}

// artefact returns where to save a test artefact: artifacts/ at the top of
// the repository (gitignored).
func artefact(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// TestBrowser drives headless Chromium through the admin page: it logs in,
// filters, checks the rows, checks that a user name made of HTML is shown
// as text (and runs nothing), looks at the chart on a phone-sized screen,
// and saves screenshots.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	srv := newTestServer(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		// Without these Chromium keeps calling home, and this network is
		// closed.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))

	// An alert() anywhere means the XSS name ran: count dialogs, and close
	// them so that nothing blocks.
	var dialogs atomic.Int32
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		for _, err := range events {
			if err != nil {
				return
			}
			dialogs.Add(1)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	defer func() { cancelBrowser(); <-listening }()

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	do("open the activity page, land on the login form",
		chromedp.Navigate(srv.URL+"/activity"),
		chromedp.WaitVisible(`input[name="password"]`),
	)
	if loc := value(t, ctx, "location", chromedp.Location()); !strings.Contains(loc, "/login?next=%2Factivity") {
		t.Fatalf("at %s, want the login form", loc)
	}
	do("log in",
		chromedp.SendKeys(`input[name="name"]`, testAdmin),
		chromedp.SendKeys(`input[name="password"]`, testPassword),
		chromedp.Submit(`form.login`),
		chromedp.WaitVisible(`#rows`),
	)
	if loc := value(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/activity") {
		t.Fatalf("after login at %s, want back on /activity", loc)
	}

	const userCells = `[...document.querySelectorAll('#rows td.user')].map(td => td.textContent)`
	users := value(t, ctx, "read the rows", chromedp.Evaluate[[]string](userCells))
	images := value(t, ctx, "count images", chromedp.Evaluate[int](`document.querySelectorAll('img').length`))
	if len(users) != 7 {
		t.Fatalf("%d rows %q, want the 7 events", len(users), users)
	}
	found := false
	for _, u := range users {
		found = found || u == xssUser
	}
	if !found || images != 0 {
		t.Fatalf("user cells %q, %d <img> elements: want %q shown as text and no image", users, images, xssUser)
	}

	do("filter by user and result",
		chromedp.SetValue(`input[name="user"]`, "Alice"),
		chromedp.SetValue(`input[name="result"]`, "failure"),
		chromedp.Submit(`form.filters`),
		chromedp.WaitVisible(`#rows`),
	)
	loc := value(t, ctx, "location", chromedp.Location())
	users = value(t, ctx, "read the filtered rows", chromedp.Evaluate[[]string](userCells))
	if !strings.Contains(loc, "user=Alice") || strings.Join(users, ",") != "alice" {
		t.Fatalf("at %s rows %q, want alice's one failure", loc, users)
	}
	do("open its transaction",
		chromedp.Click(`#rows a[href^="/transaction"]`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#rows`),
	)
	if text := value(t, ctx, "transaction", chromedp.Text(`main`)); !strings.Contains(text, "push rejected by user: it wasn't me") ||
		!strings.Contains(text, "denied: it wasn't me") {
		t.Fatalf("transaction page:\n%s", text)
	}

	// WaitReady, not WaitVisible: chromedp's visibility test does not
	// work on SVG elements; the width check below does.
	do("summary with its chart",
		chromedp.Navigate(srv.URL+"/summary?since=3h&by=hour"),
		chromedp.WaitReady(`svg.chart`),
	)
	if bars := value(t, ctx, "count bars", chromedp.Evaluate[int](`document.querySelectorAll('svg.chart rect').length`)); bars == 0 {
		t.Fatal("the chart has no bars")
	}
	desktop := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	do("on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/summary?since=3h&by=hour&per=user"),
		chromedp.WaitReady(`svg.chart`),
	)
	overflow := value(t, ctx, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	svgWidth := value(t, ctx, "chart width", chromedp.Evaluate[float64](`document.querySelector('svg.chart').getBoundingClientRect().width`))
	if overflow || svgWidth > 390 || svgWidth < 300 {
		t.Fatalf("on a 390 px screen the page scrolls sideways (%v) or the chart is %.0f px wide", overflow, svgWidth)
	}
	phone := value(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if n := dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened: a user name ran as script", n)
	}
	for name, png := range map[string][]byte{"admin-summary-desktop.png": desktop, "admin-summary-phone.png": phone} {
		path := artefact(t, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// value runs an action that returns something.
func value[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}
