package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/report"
	"github.com/trailcheck/trailcheck/pkg/store"
	"github.com/trailcheck/trailcheck/pkg/validate"
)

const (
	keyList = "testdata/keys/us-east-1-list.json"
	keyMap  = "testdata/keys/region-map.json"
)

// baseArgs are the arguments of a run that passes the command-line checks.
func baseArgs(t *testing.T, extra ...string) []string {
	return append([]string{"validate", "--dir", t.TempDir(), "--public-keys", keyMap, "--start-time", "2024-01-01"}, extra...)
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // stderr
	}{
		{"unknown command", []string{"valdate"},
			"trailcheck: error: unknown command \"valdate\" for \"trailcheck\"\ntrailcheck: hint: did you mean 'trailcheck validate'?\n"},
		{"unknown flag", []string{"validate", "--bogus"},
			"trailcheck: error: unknown flag: --bogus\ntrailcheck: hint: run 'trailcheck validate --help' for usage\n"},
		{"bad flag value", []string{"validate", "--workers", "many"},
			"trailcheck: error: invalid argument \"many\" for \"--workers\" flag: strconv.ParseInt: parsing \"many\": invalid syntax\ntrailcheck: hint: run 'trailcheck validate --help' for usage\n"},
		{"argument", []string{"validate", "extra", "--dir", dir},
			"trailcheck: error: validate takes no arguments, got \"extra\"\ntrailcheck: hint: run 'trailcheck validate --help' for usage\n"},
		{"no dir", []string{"validate", "--start-time", "2024-01-01"},
			"trailcheck: error: no trail to validate: give --trail-arn ARN or --s3-bucket BUCKET, or --dir DIR, the root of a local copy of the bucket\ntrailcheck: hint: or copy the bucket with 'aws s3 sync s3://BUCKET DIR' and give --dir DIR\n"},
		{"no keys", []string{"validate", "--dir", dir, "--start-time", "2024-01-01"},
			"trailcheck: error: --dir needs --public-keys: a local copy cannot ask CloudTrail for its public keys\ntrailcheck: hint: save them with 'aws cloudtrail list-public-keys --region REGION > keys.json' and give --public-keys REGION=keys.json\n"},
		{"empty key file name", []string{"validate", "--dir", dir, "--public-keys", "us-east-1=", "--start-time", "2024-01-01"},
			"trailcheck: error: --public-keys \"us-east-1=\": no file name\ntrailcheck: hint: run 'trailcheck validate --help' for usage\n"},
		{"no start", []string{"validate", "--dir", dir, "--public-keys", keyMap},
			"trailcheck: error: --start-time is required\ntrailcheck: hint: for example --start-time 2024-01-01 or --start-time 2024-01-01T00:00:00Z\n"},
		{"bad start", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "yesterday"},
			"trailcheck: error: --start-time \"yesterday\": not a time: use RFC 3339 (2015-01-08T05:21:42Z) or a date (2015-01-08)\n"},
		{"bad end", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--end-time", "2024-02-30"},
			"trailcheck: error: --end-time \"2024-02-30\": not a time: use RFC 3339 (2015-01-08T05:21:42Z) or a date (2015-01-08)\n"},
		{"start after end", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-02", "--end-time", "2024-01-01T23:59:59Z"},
			"trailcheck: error: --start-time 2024-01-02T00:00:00Z is after --end-time 2024-01-01T23:59:59Z\n"},
		{"start in the future", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2999-01-01"},
			"trailcheck: error: --start-time 2999-01-01T00:00:00Z is after now ("},
		{"bad account", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--account-id", "12345"},
			"trailcheck: error: --account-id \"12345\" is not a 12-digit AWS account ID\n"},
		{"bad region", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--region", "useast1"},
			"trailcheck: error: --region \"useast1\" is not an AWS region name (like us-east-1)\n"},
		{"empty trail", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--trail-name", ""},
			"trailcheck: error: --trail-name \"\": empty name\n"},
		{"empty account in list", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--account-id", "111122223333,"},
			"trailcheck: error: --account-id \"111122223333,\": empty name\n"},
		{"trail ARN as a name", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--trail-name", "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"},
			"trailcheck: error: --trail-name \"arn:aws:cloudtrail:us-east-1:111122223333:trail/main\" is not a trail name\ntrailcheck: hint: --trail-name takes a name, not an ARN\n"},
		{"negative workers", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--workers", "-1"},
			"trailcheck: error: --workers -1: must be 0 (automatic) or more\n"},
		{"bad output", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--output", "yaml"},
			"trailcheck: error: --output \"yaml\": must be text, json, aws, junit or ndjson\n"},
		{"bad color", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01", "--color", "yes"},
			"trailcheck: error: --color \"yes\": must be auto, always or never\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			if code := c.run(t, tt.args...); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if got := c.errOut.String(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.want)
			}
			if c.out.Len() > 0 {
				t.Errorf("stdout not empty: %q", c.out.String())
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badKeys := write("bad-keys.json", `{"PublicKeyList": [{"Fingerprint": "ab", "Value": "!!", "ValidityStartTime": 1, "ValidityEndTime": 2}]}`)
	notKeys := write("not-keys.json", `[1, 2]`)
	emptyKeys := write("empty-keys.json", `{"PublicKeyList": []}`)
	badSigs := write("bad-sigs.json", `{"AWSLogs/x.json.gz": 12}`)
	notADir := write("file", "")
	missing := filepath.Join(dir, "missing")
	keyHint := "trailcheck: hint: give 'aws cloudtrail list-public-keys' output as --public-keys REGION=FILE, or a JSON object mapping regions to it\n"

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing key file", []string{"validate", "--dir", dir, "--public-keys", missing, "--start-time", "2024-01-01"},
			"trailcheck: error: public keys: open " + missing + ": no such file or directory\n"},
		// The key package words these; the CLI adds the prefix and the hint.
		{"bad key", []string{"validate", "--dir", dir, "--public-keys", badKeys, "--start-time", "2024-01-01"},
			"trailcheck: error: public keys: " + badKeys + ": …\n" + keyHint},
		{"not a key file", []string{"validate", "--dir", dir, "--public-keys", notKeys, "--start-time", "2024-01-01"},
			"trailcheck: error: public keys: " + notKeys + ": …\n" + keyHint},
		{"no keys in file", []string{"validate", "--dir", dir, "--public-keys", "us-east-1=" + emptyKeys, "--start-time", "2024-01-01"},
			"trailcheck: error: public keys: " + emptyKeys + ": no keys in the file\n" + keyHint},
		{"region map given a region", []string{"validate", "--dir", dir, "--public-keys", "eu-west-1=" + keyMap, "--start-time", "2024-01-01"},
			"trailcheck: error: public keys: " + keyMap + ": file maps region us-east-1 but was given for region eu-west-1\n" + keyHint},
		{"missing signatures file", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--signatures", missing, "--start-time", "2024-01-01"},
			"trailcheck: error: signatures: open " + missing + ": no such file or directory\n"},
		{"bad signatures file", []string{"validate", "--dir", dir, "--public-keys", keyMap, "--signatures", badSigs, "--start-time", "2024-01-01"},
			"trailcheck: error: signatures: " + badSigs + ": entry \"AWSLogs/x.json.gz\": value is neither a hex signature string nor a metadata object\n"},
		{"missing dir", []string{"validate", "--dir", missing, "--public-keys", keyMap, "--start-time", "2024-01-01"},
			"trailcheck: error: --dir " + missing + ": no such file or directory\n"},
		{"dir is a file", []string{"validate", "--dir", notADir, "--public-keys", keyMap, "--start-time", "2024-01-01"},
			"trailcheck: error: --dir " + notADir + ": " + notADir + ": not a directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			if code := c.run(t, tt.args...); code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			// "…" stands for the rest of a line worded by another package.
			got := c.errOut.String()
			wantLines, gotLines := strings.SplitAfter(tt.want, "\n"), strings.SplitAfter(got, "\n")
			ok := len(wantLines) == len(gotLines)
			for i := 0; ok && i < len(wantLines); i++ {
				if prefix, cut := strings.CutSuffix(wantLines[i], "…\n"); cut {
					ok = strings.HasPrefix(gotLines[i], prefix) && strings.HasSuffix(gotLines[i], "\n")
				} else {
					ok = gotLines[i] == wantLines[i]
				}
			}
			if !ok {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.want)
			}
			if c.out.Len() > 0 {
				t.Errorf("stdout not empty: %q", c.out.String())
			}
		})
	}
}

// TestParse checks how flags become options, without running anything.
func TestParse(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *ValidateOptions)
	}{
		{"defaults", nil, func(t *testing.T, o *ValidateOptions) {
			if o.Output != "text" || o.Verbose || o.Color || o.FailOnGap || o.Workers != 0 || o.PrefixSet || o.Signatures != "" {
				t.Errorf("unexpected defaults: %+v", o)
			}
			if !o.Start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("start %v", o.Start)
			}
			if d := time.Since(o.End); d < 0 || d > time.Minute || o.End.Location() != time.UTC || o.End.Nanosecond() != 0 {
				t.Errorf("end %v is not now in UTC to the second", o.End)
			}
		}},
		{"AWS CLI time", []string{"--start-time", "2015-01-08T05:21:42Z", "--end-time", "2015-01-08T12:31:41Z"}, func(t *testing.T, o *ValidateOptions) {
			if o.Start != time.Date(2015, 1, 8, 5, 21, 42, 0, time.UTC) || o.End != time.Date(2015, 1, 8, 12, 31, 41, 0, time.UTC) {
				t.Errorf("got %v to %v", o.Start, o.End)
			}
		}},
		{"offset converted to UTC", []string{"--start-time", "2015-01-08T07:21:42+02:00", "--end-time", "2015-01-08 12:31:41.5-05:00"}, func(t *testing.T, o *ValidateOptions) {
			if o.Start != time.Date(2015, 1, 8, 5, 21, 42, 0, time.UTC) || o.End != time.Date(2015, 1, 8, 17, 31, 41, 5e8, time.UTC) {
				t.Errorf("got %v to %v", o.Start, o.End)
			}
		}},
		{"date and zone-less time", []string{"--start-time", "2015-01-08", "--end-time", "2015-01-09t10:00"}, func(t *testing.T, o *ValidateOptions) {
			if o.Start != time.Date(2015, 1, 8, 0, 0, 0, 0, time.UTC) || o.End != time.Date(2015, 1, 9, 10, 0, 0, 0, time.UTC) {
				t.Errorf("got %v to %v", o.Start, o.End)
			}
		}},
		{"filters and flags", []string{
			"--account-id", "111122223333,444455556666", "--account-id", "777788889999",
			"--region", "us-east-1", "--region", "eu-west-1", "--trail-name", "a.b", "--s3-bucket", "b",
			"--s3-prefix", "/logs/x/", "--workers", "7", "--fail-on-gap", "--output", "aws", "--verbose",
			"--public-keys", "eu-west-1=k=1.json", "--public-keys", "a=b.json", "--signatures", "s.json",
		}, func(t *testing.T, o *ValidateOptions) {
			if strings.Join(o.Accounts, " ") != "111122223333 444455556666 777788889999" ||
				strings.Join(o.Regions, " ") != "us-east-1 eu-west-1" || strings.Join(o.Trails, " ") != "a.b" {
				t.Errorf("filters %v %v %v", o.Accounts, o.Regions, o.Trails)
			}
			if o.Bucket != "b" || o.Prefix != "logs/x" || !o.PrefixSet || o.Workers != 7 || !o.FailOnGap || o.Output != "aws" || !o.Verbose || o.Signatures != "s.json" {
				t.Errorf("options %+v", o)
			}
			if strings.Join(o.PublicKeys, " ") != keyMap+" eu-west-1=k=1.json a=b.json" {
				t.Errorf("public keys %q", o.PublicKeys)
			}
		}},
		{"empty prefix is a prefix", []string{"--s3-prefix", ""}, func(t *testing.T, o *ValidateOptions) {
			if !o.PrefixSet || o.Prefix != "" {
				t.Errorf("prefix %q set %v", o.Prefix, o.PrefixSet)
			}
		}},
		{"color always", []string{"--color", "always"}, func(t *testing.T, o *ValidateOptions) {
			if !o.Color {
				t.Error("no color")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			var got *ValidateOptions
			root := newRootCmd(c.ios, func(_ context.Context, o *ValidateOptions) error { got = o; return nil })
			args := append([]string{"validate", "--dir", dir, "--public-keys", keyMap, "--start-time", "2024-01-01"}, tt.args...)
			if code := execute(t.Context(), root, args, c.ios); code != 0 {
				t.Fatalf("exit code %d: %s", code, c.errOut.String())
			}
			tt.check(t, got)
		})
	}
}

func TestSplitKeySpec(t *testing.T) {
	for spec, want := range map[string][2]string{
		"keys.json":             {"", "keys.json"},
		"us-east-1=keys.json":   {"us-east-1", "keys.json"},
		"us-gov-west-1=a=b":     {"us-gov-west-1", "a=b"},
		"dir=x/keys.json":       {"", "dir=x/keys.json"},
		"/tmp/a=us-east-1.json": {"", "/tmp/a=us-east-1.json"},
	} {
		r, f := splitKeySpec(spec)
		if r != want[0] || f != want[1] {
			t.Errorf("splitKeySpec(%q) = %q, %q; want %q, %q", spec, r, f, want[0], want[1])
		}
	}
}

func TestColorEnabled(t *testing.T) {
	tests := []struct {
		mode string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"auto", true, nil, true},
		{"auto", false, nil, false},
		{"auto", true, map[string]string{"NO_COLOR": "1"}, false},
		{"auto", true, map[string]string{"CLICOLOR": "0"}, false},
		{"auto", true, map[string]string{"TERM": "dumb"}, false},
		{"auto", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"auto", false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
		{"auto", false, map[string]string{"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, false},
		{"always", false, map[string]string{"NO_COLOR": "1"}, true},
		{"never", true, map[string]string{"CLICOLOR_FORCE": "1"}, false},
	}
	for _, tt := range tests {
		ios := &IOStreams{OutIsTTY: tt.tty, Getenv: func(k string) string { return tt.env[k] }}
		if got := ios.colorEnabled(tt.mode); got != tt.want {
			t.Errorf("mode %s tty %v env %v: got %v", tt.mode, tt.tty, tt.env, got)
		}
	}
}

// sample is a small report the stand-in validator returns.
func sample(findings ...report.Finding) *report.Report {
	end := time.Date(2024, 1, 1, 1, 4, 5, 0, time.UTC)
	start := end.Add(-time.Hour)
	c := report.Chain{ID: "111122223333/us-east-1/main", Account: "111122223333", Region: "us-east-1", Trail: "main", HomeRegion: "us-east-1",
		TrailARN: "arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
		Digests:  report.Counts{Total: 1, Valid: 1}, Logs: report.Counts{Total: 1, Valid: 1},
		Verified: []report.Interval{{Start: start, End: end}}, ValidFrom: &start, ValidTo: &end}
	digestURI := "s3://b/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240101T010405Z.json.gz"
	r := &report.Report{
		Source: "dir:x", Bucket: "b",
		Requested: report.Interval{Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)},
		Chains:    []report.Chain{c},
		Findings:  findings,
		Objects: []report.ObjectResult{{Chain: c.ID, Digest: true, Valid: true, Object: digestURI,
			Order: report.Order{DigestEnd: end, LogIndex: -1}}},
	}
	for i := range r.Findings {
		r.Findings[i].Chain = c.ID
	}
	r.Finalize()
	return r
}

func returns(r *report.Report, err error) validateFunc {
	return func(context.Context, store.Store, validate.Options) (*report.Report, error) { return r, err }
}

var hashMismatch = report.Finding{Kind: report.LogHashMismatch, Severity: report.Error, Object: "s3://b/AWSLogs/x.json.gz", Detail: "SHA-256 differs",
	Order: report.Order{DigestEnd: time.Date(2024, 1, 1, 1, 4, 5, 0, time.UTC), LogIndex: 0}}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		validate  validateFunc
		args      []string
		code      int
		stdout    string // substring
		stderr    string // exact
		stdoutNot string
	}{
		{"valid", returns(sample(), nil), nil, exitValid, "VALID: 1/1 digest files and 1/1 log files verified in 1 chain\n", "", ""},
		{"invalid", returns(sample(hashMismatch), nil), nil, exitInvalid, "INVALID: 1 error (1 log_hash_mismatch)", "", ""},
		{"warning only", returns(sample(report.Finding{Kind: report.ChainGap, Severity: report.Warning, Detail: "gap"}), nil), nil, exitValid, "VALID", "", ""},
		{"run error", returns(nil, errors.New("listing AWSLogs/: input/output error")), nil, exitFailed, "",
			"trailcheck: error: listing AWSLogs/: input/output error\n", ""},
		{"access denied", returns(nil, fmt.Errorf("listing AWSLogs/: %w", store.ErrAccessDenied)), nil, exitFailed, "",
			"trailcheck: error: listing AWSLogs/: access denied\ntrailcheck: hint: check that you can read every file below ", ""},
		{"no report", returns(nil, nil), nil, exitFailed, "", "trailcheck: error: the validator returned no report\n", ""},
		{"json", returns(sample(hashMismatch), nil), []string{"--output", "json"}, exitInvalid, "\"verdict\": \"invalid\"", "", ""},
		{"aws", returns(sample(hashMismatch), nil), []string{"--output", "aws"}, exitInvalid,
			"Validating log files for trail arn:aws:cloudtrail:us-east-1:111122223333:trail/main between 2024-01-01T00:00:00Z and 2024-01-01T01:00:00Z\n\n",
			"Log file\ts3://b/AWSLogs/x.json.gz\tINVALID: hash value doesn't match\n\n", "Digest file"},
		{"aws verbose", returns(sample(), nil), []string{"--output", "aws", "--verbose"}, exitValid, "\tvalid\n", "", ""},
		{"unanchored hint", returns(sample(report.Finding{Kind: report.DigestUnanchored, Severity: report.Error, Object: "s3://b/d", Detail: "no signature"}), nil), nil, exitInvalid,
			"digest_unanchored", "trailcheck: hint: a local copy has no S3 metadata: give the digests' signatures with --signatures FILE\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			code := c.runWith(t.Context(), tt.validate, baseArgs(t, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, c.errOut.String())
			}
			if !strings.Contains(c.out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, c.out.String())
			}
			if tt.stdoutNot != "" && strings.Contains(c.out.String(), tt.stdoutNot) {
				t.Errorf("stdout has %q:\n%s", tt.stdoutNot, c.out.String())
			}
			if got := c.errOut.String(); !strings.HasPrefix(got, tt.stderr) || (tt.stderr == "" && got != "") {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.stderr)
			}
			if strings.Contains(c.out.String(), "\x1b[") {
				t.Error("color in output that is not a terminal")
			}
		})
	}
}

// TestOptionsReachValidator checks what runValidate hands to validate.Run.
func TestOptionsReachValidator(t *testing.T) {
	dir := t.TempDir()
	sigs := filepath.Join(dir, "sigs.json")
	key := "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240101T010405Z.json.gz"
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, key), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sigs, []byte(`{"s3://b/`+key+`": "abcd"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var got validate.Options
	var meta store.Meta
	fake := func(ctx context.Context, st store.Store, o validate.Options) (*report.Report, error) {
		got = o
		rc, m, err := st.Open(ctx, key)
		if err != nil {
			return nil, err
		}
		rc.Close()
		meta = m
		return sample(), nil
	}
	c := newCLI(nil)
	code := c.runWith(t.Context(), fake, "validate", "--dir", dir, "--public-keys", keyMap, "--public-keys", "eu-west-1="+keyList,
		"--signatures", sigs, "--start-time", "2024-01-01", "--end-time", "2024-01-02T00:00:00+01:00",
		"--account-id", "111122223333", "--region", "us-east-1", "--trail-name", "main", "--s3-bucket", "b", "--s3-prefix", "",
		"--workers", "3", "--fail-on-gap", "--verbose")
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, c.errOut.String())
	}
	if !got.Start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || !got.End.Equal(time.Date(2024, 1, 1, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("range %v to %v", got.Start, got.End)
	}
	if got.Bucket != "b" || !got.PrefixSet || got.Prefix != "" || got.Workers != 3 || !got.FailOnGap || !got.KeepValid || got.Progress != nil {
		t.Errorf("options %+v", got)
	}
	if strings.Join(got.Accounts, ",") != "111122223333" || strings.Join(got.Regions, ",") != "us-east-1" || strings.Join(got.Trails, ",") != "main" {
		t.Errorf("filters %v %v %v", got.Accounts, got.Regions, got.Trails)
	}
	if meta["signature"] != "abcd" || meta["signature-algorithm"] != "SHA256withRSA" {
		t.Errorf("the store does not answer with the signatures file: %v", meta)
	}
	// The same key, from the region map (us-east-1) and labelled eu-west-1.
	at := time.Date(2016, 1, 20, 0, 0, 0, 0, time.UTC)
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		l, err := got.Keys.Lookup(t.Context(), region, "7f3f401420072e50a65a141430817ab3", at)
		if err != nil || l.Key == nil || !l.RegionChecked {
			t.Errorf("key for %s: %+v, %v", region, l, err)
		}
	}
	if l, _ := got.Keys.Lookup(t.Context(), "ap-south-1", "7f3f401420072e50a65a141430817ab3", at); l.Key != nil {
		t.Error("a key labelled with other regions verifies ap-south-1")
	}

	// JSON output does not keep valid objects, even with --verbose.
	c = newCLI(nil)
	c.runWith(t.Context(), fake, baseArgs(t, "--verbose", "--output", "json")...)
	if got.KeepValid {
		t.Error("KeepValid with --output json")
	}
}

func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	fake := func(ctx context.Context, _ store.Store, _ validate.Options) (*report.Report, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	go func() { <-started; cancel() }()
	c := newCLI(nil)
	if code := c.runWith(ctx, fake, baseArgs(t)...); code != exitInterrupted {
		t.Errorf("exit code %d, want %d", code, exitInterrupted)
	}
	if got := c.errOut.String(); got != "trailcheck: error: interrupted\n" {
		t.Errorf("stderr %q", got)
	}
	if c.out.Len() > 0 {
		t.Errorf("stdout %q", c.out.String())
	}
}

func TestColorOnTerminal(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{nil, nil, true},
		{map[string]string{"NO_COLOR": "1"}, nil, false},
		{nil, []string{"--color", "never"}, false},
		{nil, []string{"--output", "json"}, false},
	} {
		c := newCLI(tt.env)
		c.ios.OutIsTTY = true
		c.runWith(t.Context(), returns(sample(hashMismatch), nil), baseArgs(t, tt.args...)...)
		if got := strings.Contains(c.out.String(), "\x1b["); got != tt.want {
			t.Errorf("env %v args %v: color %v, want %v\n%s", tt.env, tt.args, got, tt.want, c.out.String())
		}
	}
}

// TestProgress checks the bar appears on a terminal stderr only, and that
// it is gone before the results.
func TestProgress(t *testing.T) {
	fake := func(ctx context.Context, _ store.Store, o validate.Options) (*report.Report, error) {
		if o.Progress == nil {
			return sample(), nil
		}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o.Progress.Add(10)
				for j := 0; j < 10; j++ {
					o.Progress.Done(1)
				}
			}()
		}
		wg.Wait()
		return sample(), nil
	}
	c := newCLI(nil)
	c.ios.ErrIsTTY = true
	if code := c.runWith(t.Context(), fake, baseArgs(t)...); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(c.errOut.String(), "hashing log files") {
		t.Errorf("no progress on a terminal: %q", c.errOut.String())
	}
	if strings.Contains(c.out.String(), "hashing") {
		t.Error("progress on stdout")
	}

	c = newCLI(nil)
	if code := c.runWith(t.Context(), fake, baseArgs(t)...); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if c.errOut.Len() > 0 {
		t.Errorf("progress when stderr is not a terminal: %q", c.errOut.String())
	}
}

func TestHashProgressConcurrent(t *testing.T) {
	var buf syncBuffer
	p := newHashProgress(&buf)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Add(5)
			p.Done(5)
		}()
	}
	wg.Wait()
	p.finish()
	p.finish()                     // twice is harmless
	newHashProgress(&buf).finish() // never started
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestRealValidator runs the real validate.Run on an empty copy: nothing to
// verify is a failure, not a success.
func TestRealValidator(t *testing.T) {
	c := newCLI(nil)
	code := c.run(t, baseArgs(t, "--output", "json", "--end-time", "2024-01-02")...)
	if code != exitInvalid {
		t.Fatalf("exit code %d, want %d; stderr %q", code, exitInvalid, c.errOut.String())
	}
	var doc struct {
		Verdict  string
		Findings []struct{ Kind string }
	}
	if err := json.Unmarshal(c.out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, c.out.String())
	}
	if doc.Verdict != "invalid" || len(doc.Findings) != 1 || doc.Findings[0].Kind != "no_digests" {
		t.Errorf("report %+v", doc)
	}
}

func TestVersion(t *testing.T) {
	c := newCLI(nil)
	if code := c.run(t, "version"); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.HasPrefix(c.out.String(), "trailcheck version ") {
		t.Errorf("stdout %q", c.out.String())
	}
	old := version
	version = "v9.9.9"
	defer func() { version = old }()
	if got := versionString(); got != "v9.9.9" {
		t.Errorf("versionString() = %q with -X main.version", got)
	}
}
