// Package browsertest starts the headless Chromium of the tests that drive
// one (examples/chi-app, examples/gateway). It is apart from sesametest so
// that the tests that drive no browser do not build chromedp.
package browsertest

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// Allocator starts nothing yet: it returns the allocator context of a
// headless Chromium (the program chrome) with a fresh profile in t's
// temporary directory, no sandbox, GPU, first-run or background traffic,
// and no name resolving but localhost and 127.0.0.1, so that nothing leaves
// the loopback. extra adds options (flags of a test's own).
func Allocator(t testing.TB, chrome string, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
	}
	return chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
}
