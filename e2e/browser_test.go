package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Tokyo for the expected local time

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The approval page in real headless Chromium, as a phone opens the link
// from the notification: what it shows (in the viewer's locale and time
// zone), Approve, Deny → "It wasn't me", picking the number, and the
// refusals a browser meets (a used, expired or forged link, a form from a
// tab whose CSRF cookie another tab replaced). Screenshots go to
// artifacts/. The page's own handler tests cover the rest (a POST without
// a CSRF token, hostile names, the API's signatures).

// chromium finds a Chromium to drive; it skips the test, or fails it under
// CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(t, "chromium") // fails under CI, skips otherwise
	return ""
}

// artefact returns a path under artifacts/ at the top of the repository.
func artefact(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// browser is headless Chromium with one tab per phone view.
type browser struct {
	t   *testing.T
	ctx context.Context // the browser; tabs derive from it

	mu       sync.Mutex
	requests []string // every URL any tab requested
	console  []string // log entries (CSP violations show up here)
	dialogs  int
}

// newBrowser starts Chromium (as root it needs --no-sandbox) for the test.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps calling home otherwise; this network is closed.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(ctx); err != nil { // start it
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	return &browser{t: t, ctx: ctx}
}

// tab opens a tab that looks like a phone in Tokyo set to German: the
// page must show the request time in the viewer's locale and zone.
func (b *browser) tab() context.Context {
	t := b.t
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *cdplog.EventEntryAdded:
			b.console = append(b.console, ev.Entry.Text)
		case *page.EventJavascriptDialogOpening:
			b.dialogs++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = chromedp.Call(ctx, network.Enable, network.EnableParams{})
	call("network", err)
	_, err = chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	call("log", err)
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
	call("time zone", err)
	_, err = chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "de_DE"})
	call("locale", err)
	call("phone", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)))
	return ctx
}

// do runs actions in a tab and fails the test on error.
func (b *browser) do(ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// open navigates a tab and returns the HTTP status of the page.
func (b *browser) open(ctx context.Context, url string) int64 {
	b.t.Helper()
	resp := value(b.t, ctx, "open "+url, chromedp.NavigateResponse(url))
	return resp.Status
}

// text returns an element's text ("" if there is none). It asks the page
// itself: node queries can hold on to the document a form submission
// replaced.
func (b *browser) text(ctx context.Context, sel string) string {
	b.t.Helper()
	return value(b.t, ctx, "text of "+sel, chromedp.Evaluate[string](`(e => e ? e.innerText.trim() : "")(document.querySelector(`+strconv.Quote(sel)+`))`))
}

// click clicks an element that submits a form, and waits until the page
// that answers has an element matching then.
func (b *browser) click(ctx context.Context, sel, then string) {
	b.t.Helper()
	b.do(ctx, "click "+sel, chromedp.Click(sel, chromedp.NodeVisible))
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Errors are expected while the next page replaces this one.
		found, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete" && document.querySelector(`+strconv.Quote(then)+`) !== null`))
		if err == nil && found {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after clicking %s: no %s within 10 s (%v)", sel, then, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the tab's page as artifacts/NAME.
func (b *browser) screenshot(ctx context.Context, name string) {
	b.t.Helper()
	png := value(b.t, ctx, "screenshot", chromedp.FullScreenshot(100))
	path := artefact(b.t, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// checkClean fails when a page loaded anything from elsewhere, broke its
// Content-Security-Policy or opened a dialog.
func (b *browser) checkClean(origin string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		b.t.Error("no network requests were seen: the check would prove nothing")
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, origin+"/") {
			b.t.Errorf("the page requested %s: nothing may come from anywhere but the approval page", u)
		}
	}
	for _, c := range b.console {
		if strings.Contains(c, "Content Security Policy") || strings.Contains(c, "Refused to") {
			b.t.Errorf("console: %s", c)
		}
	}
	if b.dialogs != 0 {
		b.t.Errorf("%d JavaScript dialogs opened", b.dialogs)
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

// TestBrowserApproval answers inline pushes in Chromium while radclient
// waits, and checks what a phone's browser is shown.
func TestBrowserApproval(t *testing.T) {
	const timeout = 8 * time.Second
	r := newPushRig(t, `timeout = "8s"`, "")
	b := newBrowser(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		r.addPushUser(t, u)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("approve", func(t *testing.T) {
		ch := r.fr.sendAsync(once, attrs("alice", "", "203.0.113.50")...)
		n := r.waitNotices(t, "alice", "push", 1)[0]
		tab := b.tab()
		if status := b.open(tab, n.Push.ApprovalURL); status != 200 {
			t.Fatalf("status %d", status)
		}
		got := map[string]string{}
		for _, id := range []string{"user", "resource", "organisation", "client-ip", "when"} {
			got[id] = b.text(tab, "#"+id)
		}
		// de-DE in Tokyo: "24.11.2026, 23:05:09", from the inline script.
		when := n.Push.RequestTime.In(tokyo).Format("2.1.2006, 15:04:05")
		want := map[string]string{"user": "alice", "resource": "vpn-gw-1", "organisation": "Example Corp", "client-ip": "203.0.113.50", "when": when}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("#%s shows %q, want %q", k, got[k], v)
			}
		}
		overflow := value(t, tab, "overflow", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if overflow {
			t.Error("the page scrolls sideways on a 390 px screen")
		}
		b.screenshot(tab, "push-approve-phone.png")
		b.click(tab, "#approve", "#message")
		if h := b.text(tab, "h1"); h != "Approved" {
			t.Fatalf("after Approve the page says %q", h)
		}
		await(t, ch, 5*time.Second, "Access-Accept")
		b.screenshot(tab, "push-approved-phone.png")

		// The link is single use: opening it again is refused.
		if status := b.open(tab, n.Push.ApprovalURL); status != 410 || b.text(tab, "h1") != "Already answered" {
			t.Fatalf("used link: %d %q, want 410 Already answered", status, b.text(tab, "h1"))
		}
		if value(t, tab, "buttons", chromedp.Evaluate[int](`document.querySelectorAll('button').length`)) != 0 {
			t.Fatal("a used link still offers buttons")
		}
	})

	t.Run("deny: it wasn't me", func(t *testing.T) {
		ch := r.fr.sendAsync(once, attrs("bob", "", "198.51.100.77")...)
		n := r.waitNotices(t, "bob", "push", 1)[0]
		tab := b.tab()
		b.open(tab, n.Push.ApprovalURL)
		b.click(tab, "#deny", "#deny-fraud")
		if value(t, tab, "approve button", chromedp.Evaluate[int](`document.querySelectorAll('#approve').length`)) != 0 {
			t.Fatal("the deny step still offers Approve")
		}
		if b.text(tab, "#deny-mistake") != "I made a mistake" {
			t.Fatal("the deny step does not offer \"I made a mistake\"")
		}
		b.screenshot(tab, "push-deny-phone.png")
		b.click(tab, "#deny-fraud", "#message")
		if msg := b.text(tab, "#message"); !strings.Contains(msg, "help desk has been told") {
			t.Fatalf("after It wasn't me: %q", msg)
		}
		await(t, ch, 5*time.Second, "Access-Reject")
		matchAll(t, "events", summary(r.events(t, "bob")), `^Challenge: push sent`, `^Failure: push rejected by user: it wasn't me$`)
	})

	t.Run("expired link", func(t *testing.T) {
		ch := r.fr.sendAsync(once, attrs("carol", "", "203.0.113.51")...)
		n := r.waitNotices(t, "carol", "push", 1)[0]
		await(t, ch, timeout+10*time.Second, "Access-Challenge") // the fallback
		tab := b.tab()
		if status := b.open(tab, n.Push.ApprovalURL); status != 410 || b.text(tab, "h1") != "Expired" {
			t.Fatalf("expired link: %d %q, want 410 Expired", status, b.text(tab, "h1"))
		}
	})

	t.Run("forged link", func(t *testing.T) {
		tab := b.tab()
		if status := b.open(tab, r.page+"/approve/"+strings.Repeat("A", 22)); status != 404 || b.text(tab, "h1") != "Unknown request" {
			t.Fatalf("forged link: %d %q, want 404 Unknown request", status, b.text(tab, "h1"))
		}
	})

	t.Run("a form from a tab whose CSRF cookie another tab replaced", func(t *testing.T) {
		ch := r.fr.sendAsync(once, attrs("dave", "", "203.0.113.52")...)
		n := r.waitNotices(t, "dave", "push", 1)[0]
		first, second := b.tab(), b.tab()
		b.open(first, n.Push.ApprovalURL)
		b.open(second, n.Push.ApprovalURL) // sets a new CSRF cookie
		b.click(first, "#approve", "#message")
		if h, msg := b.text(first, "h1"), b.text(first, "#message"); h != "Please try again" || !strings.Contains(msg, "could not be verified") {
			t.Fatalf("stale form: %q %q", h, msg)
		}
		if _, waiting := pending(ch); !waiting {
			t.Fatal("the refused form decided the push")
		}
		b.click(second, "#approve", "#message")
		if h := b.text(second, "h1"); h != "Approved" {
			t.Fatalf("second tab: %q", h)
		}
		await(t, ch, 5*time.Second, "Access-Accept")
	})

	b.checkClean(r.page)
}

// TestBrowserNumberMatching picks the number in Chromium (challenge flow,
// choose): the right one approves, a wrong one denies.
func TestBrowserNumberMatching(t *testing.T) {
	r := newPushRig(t, "flow = \"challenge\"\nvariant = \"choose\"\ntimeout = \"20s\"", "")
	b := newBrowser(t)
	for _, u := range []string{"erin", "frank"} {
		r.addPushUser(t, u)
	}
	for _, tt := range []struct {
		user    string
		right   bool
		heading string
		code    string
	}{
		{"erin", true, "Approved", "Access-Accept"},
		{"frank", false, "Denied", "Access-Reject"},
	} {
		t.Run(tt.user, func(t *testing.T) {
			res := await(t, r.fr.sendAsync(once, attrs(tt.user, "p", "203.0.113.60")...), 10*time.Second, "Access-Challenge")
			msg := res.r.get("Reply-Message")
			number := strings.Fields(strings.TrimPrefix(msg, "Approve the sign-in request on your phone by choosing "))[0]
			number = strings.TrimSuffix(number, ",")
			n := r.waitNotices(t, tt.user, "push", 1)[0]
			tab := b.tab()
			b.open(tab, n.Push.ApprovalURL)
			choices := value(t, tab, "choices", chromedp.Evaluate[[]string](`[...document.querySelectorAll('button.choice')].map(b => b.textContent)`))
			if len(choices) != 3 || !slices.Contains(choices, number) {
				t.Fatalf("the page offers %q, want 3 numbers with %s (prompt %q)", choices, number, msg)
			}
			pick := number
			if !tt.right {
				for _, c := range choices {
					if c != number {
						pick = c
					}
				}
			}
			if tt.right {
				b.screenshot(tab, "push-choose-phone.png")
			}
			b.click(tab, `button.choice[value="`+pick+`"]`, "#message")
			if h := b.text(tab, "h1"); h != tt.heading {
				t.Fatalf("after picking %s (shown %s): %q, want %q", pick, number, h, tt.heading)
			}
			await(t, r.fr.sendAsync(once, attrs(tt.user, "", "203.0.113.60", "State = "+res.r.get("State"))...), 5*time.Second, tt.code)
		})
	}
	b.checkClean(r.page)
}
