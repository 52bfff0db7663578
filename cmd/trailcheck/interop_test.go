package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
	"github.com/trailcheck/trailcheck/pkg/trailgen"
)

// The AWS CLI (aws cloudtrail validate-logs) is the reference: on the same
// trail served by the stand-in, trailcheck --output aws must print what it
// prints for every tamper it detects, and report the tampers it misses.

func awsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the AWS CLI (aws) is required on CI: install awscli v1")
		}
		t.Skip("the AWS CLI (aws) is not installed: skipping interop tests")
	}
	return path
}

// interopConfig is a one-account, one-region trail, the AWS CLI's scope.
func interopConfig() trailgen.Config {
	cfg := trailgen.DefaultConfig()
	cfg.Hours = 12
	cfg.LogsPerHourMin, cfg.LogsPerHourMax = 0, 3
	cfg.Seed = 7
	return cfg
}

type outcome struct {
	code           int
	stdout, stderr string
}

func runAWS(t *testing.T, aws string, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(aws, append([]string{"cloudtrail", "validate-logs"}, args...)...)
	// The stand-in's Setenv blanks AWS_PROFILE and friends; botocore
	// reads an empty AWS_PROFILE as a profile named "", so drop them.
	for _, kv := range os.Environ() {
		if strings.HasSuffix(kv, "=") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return outcome{code, out.String(), errb.String()}
}

func runOurs(t *testing.T, args ...string) outcome {
	t.Helper()
	c := newCLI(nil)
	code := c.run(t, append([]string{"validate", "--output", "aws"}, args...)...)
	return outcome{code, c.out.String(), c.errOut.String()}
}

func regz(t *testing.T, data []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(edit(raw))
	w.Close()
	return b.Bytes()
}

func firstWithLogs(tr *trailgen.Trail, from int) *trailgen.DigestInfo {
	ds := tr.Chains[0].Digests
	for _, d := range ds[from:] {
		if len(d.Logs) > 0 {
			return d
		}
	}
	return nil
}

func emptyDigest(tr *trailgen.Trail) *trailgen.DigestInfo {
	ds := tr.Chains[0].Digests
	for _, d := range ds[2 : len(ds)-2] {
		if len(d.Logs) == 0 {
			return d
		}
	}
	return nil
}

func TestInteropWithAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	cases := []struct {
		name   string
		mutate func(t *testing.T, tr *trailgen.Trail)
		// awsSees: the AWS CLI detects it, and our aws output must equal its
		// output byte for byte. Otherwise the AWS CLI passes the trail and
		// trailcheck must report wantKind.
		awsSees  bool
		wantKind string
	}{
		{"clean", nil, true, ""},
		{"log deleted", func(t *testing.T, tr *trailgen.Trail) {
			tr.Store.Delete(firstWithLogs(tr, 3).Logs[0])
		}, true, ""},
		{"log edited", func(t *testing.T, tr *trailgen.Trail) {
			k := firstWithLogs(tr, 4).Logs[0]
			data, _, _ := tr.Store.Get(k)
			tr.Store.Put(k, regz(t, data, func(b []byte) []byte { return bytes.Replace(b, []byte(`"eventName":"`), []byte(`"eventName":"x`), 1) }), nil)
		}, true, ""},
		{"log not gzip", func(t *testing.T, tr *trailgen.Trail) {
			k := firstWithLogs(tr, 5).Logs[0]
			tr.Store.Put(k, []byte(`{"Records":[]}`), nil)
		}, true, ""},
		{"empty-hour digest deleted", func(t *testing.T, tr *trailgen.Trail) {
			tr.Store.Delete(emptyDigest(tr).Key)
		}, true, ""},
		{"digest edited", func(t *testing.T, tr *trailgen.Trail) {
			d := tr.Chains[0].Digests[len(tr.Chains[0].Digests)-1]
			data, meta, _ := tr.Store.Get(d.Key)
			tr.Store.Put(d.Key, regz(t, data, func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"awsAccountId":"`), []byte(`"awsAccountId" :"`), 1)
			}), meta)
		}, true, ""},
		// What the AWS CLI misses.
		{"data appended to a log", func(t *testing.T, tr *trailgen.Trail) {
			k := firstWithLogs(tr, 3).Logs[0]
			data, _, _ := tr.Store.Get(k)
			tr.Store.Put(k, append(append([]byte{}, data...), "junk"...), nil)
		}, false, "log_trailing_data"},
		{"log injected", func(t *testing.T, tr *trailgen.Trail) {
			d := tr.Chains[0].Digests[5]
			id := tr.Chains[0].ID
			ts := d.Start.Add(7 * time.Minute)
			key := id.LogRegionPrefix() + digest.DayFolder(ts) + fmt.Sprintf("%s_CloudTrail_%s_%s_InjectedInjected.json.gz", id.Account, id.Region, ts.Format(digest.LogKeyTimeLayout))
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write([]byte(`{"Records":[]}`))
			w.Close()
			tr.Store.Put(key, b.Bytes(), nil)
		}, false, "log_unreferenced"},
		{"newest digests deleted", func(t *testing.T, tr *trailgen.Trail) {
			ds := tr.Chains[0].Digests
			for _, d := range ds[len(ds)-3:] {
				tr.Store.Delete(d.Key)
			}
		}, false, "chain_truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := interopConfig()
			_, tr, trail := serveTrail(t, cfg, func(tr *trailgen.Trail) {
				if tc.mutate != nil {
					tc.mutate(t, tr)
				}
			})
			t.Setenv("AWS_DEFAULT_REGION", cfg.HomeRegion)
			args := []string{"--trail-arn", trail.ARN(), "--start-time", tr.Start.Format("2006-01-02T15:04:05Z"),
				"--end-time", tr.End.Format("2006-01-02T15:04:05Z"), "--verbose"}
			theirs := runAWS(t, aws, args...)
			ours := runOurs(t, args...)
			if tc.awsSees {
				if ours != theirs {
					t.Fatalf("outputs differ\n--- aws (exit %d) stdout:\n%s\n--- aws stderr:\n%s\n--- trailcheck (exit %d) stdout:\n%s\n--- trailcheck stderr:\n%s",
						theirs.code, theirs.stdout, theirs.stderr, ours.code, ours.stdout, ours.stderr)
				}
				if tc.mutate != nil && theirs.code == 0 {
					t.Fatal("the tamper went unnoticed by both")
				}
				return
			}
			if theirs.code != 0 {
				t.Fatalf("the AWS CLI was expected to miss this tamper; it said (exit %d):\n%s%s", theirs.code, theirs.stdout, theirs.stderr)
			}
			c := newCLI(nil)
			code := c.run(t, append([]string{"validate", "--output", "json"}, args[:6]...)...)
			if code != 1 || !strings.Contains(c.out.String(), `"kind": "`+tc.wantKind+`"`) {
				t.Fatalf("trailcheck exit %d, want a %s finding:\n%s", code, tc.wantKind, c.out.String())
			}
		})
	}
}
