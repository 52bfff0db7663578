// Command standin serves a local copy of a CloudTrail bucket as S3, with
// CloudTrail's public keys and trails, on 127.0.0.1, so that trailcheck and
// the AWS CLI can be run against it as against AWS:
//
//	go run ./scripts/standin -dir ./bucket-copy -bucket my-trail-bucket \
//	    -signatures sigs.json -keys keys.json -latency 20ms > standin.env &
//	. ./standin.env
//	aws s3api list-objects-v2 --bucket my-trail-bucket
//
// -dir is a directory as `aws s3 sync s3://BUCKET DIR` leaves it: object key
// k is file DIR/k. -signatures gives the digests' metadata, which a sync does
// not keep: a JSON object mapping each digest's key (or s3:// URI) to its
// hex signature, its metadata {"signature": …, "signature-algorithm": …},
// or its whole `aws s3api head-object` output. -keys is a region map,
// {"us-east-1": {"PublicKeyList": [...]}, …}, each value as
// `aws cloudtrail list-public-keys --region R` prints it.
//
// stdout gets only the shell lines that point the AWS SDKs and CLI at the
// stand-in (export AWS_ENDPOINT_URL_S3=…, credentials); what was loaded goes
// to stderr. It serves until interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/standin"
	"github.com/trailcheck/trailcheck/pkg/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory holding a copy of the bucket, as `aws s3 sync` leaves it")
	bucket := fs.String("bucket", "", "bucket name to serve the copy as (default: the directory's name)")
	region := fs.String("region", "us-east-1", "the bucket's region (GetBucketLocation), and the region of -trail")
	sigPath := fs.String("signatures", "", "signatures file: digest key → signature or metadata")
	keyPath := fs.String("keys", "", "region map of CloudTrail public keys: {\"REGION\": {\"PublicKeyList\": [...]}}")
	encoding := fs.String("content-encoding", "", "Content-Encoding to serve every object with (e.g. gzip)")
	latency := fs.Duration("latency", 0, "latency added to every response (e.g. 20ms, about S3's)")
	trail := fs.String("trail", "", "name of a multi-region trail to describe, logging to the bucket")
	account := fs.String("account", standin.DefaultAccount, "account owning -trail")
	pageSize := fs.Int("keys-page-size", 0, "public keys per ListPublicKeys page (default 50)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "standin: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	srv, err := standin.Start(standin.Options{Latency: *latency, KeysPageSize: *pageSize})
	if err != nil {
		fmt.Fprintf(stderr, "standin: error: %v\n", err)
		return 1
	}
	defer srv.Close()
	if err := load(srv, *dir, *bucket, *region, *sigPath, *keyPath, *encoding, *trail, *account, stderr); err != nil {
		fmt.Fprintf(stderr, "standin: error: %v\n", err)
		return 1
	}
	for _, kv := range srv.Env() {
		fmt.Fprintf(stdout, "export %s\n", kv)
	}
	fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=standin\nexport AWS_SECRET_ACCESS_KEY=standin\n")
	fmt.Fprintf(stderr, "standin: serving on %s until interrupted\n", srv.URL())
	<-ctx.Done()
	return 0
}

func load(srv *standin.Server, dir, bucket, region, sigPath, keyPath, encoding, trail, account string, stderr io.Writer) error {
	if dir != "" {
		if bucket == "" {
			bucket = lastElem(dir)
		}
		local, err := store.NewLocal(dir)
		if err != nil {
			return err
		}
		var st store.Store = local
		if sigPath != "" {
			sigs, err := store.LoadSignatures(sigPath)
			if err != nil {
				return err
			}
			st = store.WithMetadata(st, sigs)
			fmt.Fprintf(stderr, "standin: %d signatures from %s\n", len(sigs), sigPath)
		}
		if err := srv.CreateBucket(bucket, region); err != nil {
			return err
		}
		t0 := time.Now()
		n, err := srv.LoadStore(context.Background(), bucket, st, encoding)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "standin: s3://%s (%s): %d objects from %s in %v\n", bucket, region, n, dir, time.Since(t0).Round(time.Millisecond))
	} else if sigPath != "" {
		return errors.New("-signatures needs -dir")
	}
	if keyPath != "" {
		data, err := os.ReadFile(keyPath)
		if err != nil {
			return err
		}
		byRegion, err := parseRegionMap(keyPath, data)
		if err != nil {
			return err
		}
		regions := make([]string, 0, len(byRegion))
		for r := range byRegion {
			regions = append(regions, r)
		}
		sort.Strings(regions)
		for _, r := range regions {
			srv.SetWireKeys(r, byRegion[r])
			fmt.Fprintf(stderr, "standin: %d public keys for %s\n", len(byRegion[r]), r)
		}
	}
	if trail != "" {
		if bucket == "" {
			return errors.New("-trail needs -dir or -bucket")
		}
		t := standin.Trail{Name: trail, Account: account, HomeRegion: region, Bucket: bucket, MultiRegion: true, LogFileValidation: true}
		srv.SetTrails(t)
		fmt.Fprintf(stderr, "standin: trail %s\n", t.ARN())
	}
	return nil
}

// parseRegionMap reads a region map of keys as given, without checking the
// keys: a stand-in may serve a bad key on purpose.
func parseRegionMap(name string, data []byte) (map[string][]keys.WireKey, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	out := map[string][]keys.WireKey{}
	for r, raw := range m {
		if strings.EqualFold(r, "PublicKeyList") {
			return nil, fmt.Errorf(`%s: one region's list-public-keys output; give a region map {"REGION": {"PublicKeyList": [...]}}`, name)
		}
		var lo keys.ListOutput
		if err := json.Unmarshal(raw, &lo); err != nil {
			return nil, fmt.Errorf("%s: region %s: %v", name, r, err)
		}
		out[r] = lo.PublicKeyList
	}
	return out, nil
}

func lastElem(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(dir)
}
