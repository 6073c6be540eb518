package benchkit

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/switchboardhq/switchboard/cdn"
)

// ServeCDNArg is the first argument that makes a benchmark binary run as
// the CDN child process (see ServeCDNMain and StartCDN).
const ServeCDNArg = "serve-cdn"

// NotifySecret is the notify secret of CDNs started by StartCDN.
const NotifySecret = "bench-notify-secret"

// ServeCDNMain is the CDN process: cdn.New over the bucket on -s3, with its
// change feed running, served on -addr until stdin closes. It prints its
// base URL when listening.
func ServeCDNMain(args []string) {
	fs := flag.NewFlagSet(ServeCDNArg, flag.ExitOnError)
	endpoint := fs.String("s3", "", "S3 endpoint")
	bucket := fs.String("bucket", "", "bucket")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	_ = fs.Parse(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := Store(ctx, *endpoint, *bucket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdn:", err)
		os.Exit(1)
	}
	srv := cdn.New(cdn.Params{Store: store, NotifySecret: NotifySecret, S3Timeout: 5 * time.Second})
	go func() { _ = srv.Run(ctx) }()
	if err := ServeUntilEOF(*addr, srv.Handler()); err != nil {
		fmt.Fprintln(os.Stderr, "cdn:", err)
		os.Exit(1)
	}
}

// StartCDN re-executes this binary as a CDN process over bucket and returns
// it; Ready is its base URL.
func StartCDN(ctx context.Context, endpoint, bucket string) (*Child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return StartChild(ctx, 30*time.Second, []string{fmt.Sprintf("GOMAXPROCS=%d", runtime.NumCPU())},
		self, ServeCDNArg, "-s3", endpoint, "-bucket", bucket)
}
