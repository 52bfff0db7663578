package main

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
	"github.com/trailcheck/trailcheck/pkg/standin"
)

// The genuine AWS keys of pkg/keys/testdata: three (one SPKI) in AWS's
// documentation sample, one in the AWS CLI's example.
var (
	docsKeys = filepath.Join("..", "..", "pkg", "keys", "testdata", "awsdocs-2015-listpublickeys-sample.json")
	cliKeys  = filepath.Join("..", "..", "pkg", "keys", "testdata", "awscli-example-2016-listpublickeys.json")
)

const keyTableHeader = "REGION        FINGERPRINT                       ENCODING  VALID FROM            VALID TO              DAYS  BITS  STATUS\n"

func TestKeysCheckGenuine(t *testing.T) {
	c := newCLI(nil)
	if code := c.run(t, "keys", "check", docsKeys, cliKeys); code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	// Unlabelled keys are grouped by file (the files are sorted by name),
	// then by start of validity.
	want := keyTableHeader +
		"(unlabelled)  7f3f401420072e50a65a141430817ab3  PKCS#1    2016-01-18T00:25:02Z  2016-02-17T00:25:02Z  30.0  2048  ok\n" +
		"(unlabelled)  31e8b5433410dfb61a9dc45cc65b22ff  SPKI      2015-06-18T01:02:50Z  2015-07-18T01:02:50Z  30.0  2048  ok\n" +
		"(unlabelled)  8933b39ddc64d26d8e14ffbf6566fee4  PKCS#1    2015-06-18T01:04:20Z  2015-07-18T01:04:20Z  30.0  2048  ok\n" +
		"(unlabelled)  8eba5db5bea9b640d1c96a77256fe7f2  PKCS#1    2015-07-08T01:04:01Z  2015-08-07T01:04:01Z  30.0  2048  ok\n"
	if got := c.out.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	// Keys of different files without a region are not compared: no note.
	if c.errOut.Len() > 0 {
		t.Errorf("stderr: %q", c.errOut.String())
	}
}

func TestKeysCheckGap(t *testing.T) {
	c := newCLI(nil)
	// Both files given for one region: nothing covers August 2015 to
	// January 2016. A note, not a failure.
	if code := c.run(t, "keys", "check", "us-east-1="+docsKeys, "us-east-1="+cliKeys); code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	want := strings.ReplaceAll(keyTableHeader, "REGION        ", "REGION     ") +
		"us-east-1  31e8b5433410dfb61a9dc45cc65b22ff  SPKI      2015-06-18T01:02:50Z  2015-07-18T01:02:50Z  30.0  2048  ok\n" +
		"us-east-1  8933b39ddc64d26d8e14ffbf6566fee4  PKCS#1    2015-06-18T01:04:20Z  2015-07-18T01:04:20Z  30.0  2048  ok\n" +
		"us-east-1  8eba5db5bea9b640d1c96a77256fe7f2  PKCS#1    2015-07-08T01:04:01Z  2015-08-07T01:04:01Z  30.0  2048  ok\n" +
		"us-east-1  7f3f401420072e50a65a141430817ab3  PKCS#1    2016-01-18T00:25:02Z  2016-02-17T00:25:02Z  30.0  2048  ok\n"
	if got := c.out.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	wantErr := "trailcheck: note: us-east-1: no key is valid from 2015-08-07T01:04:01Z to 2016-01-18T00:25:02Z (164.0 days): digests signed then cannot be verified with these files\n"
	if got := c.errOut.String(); got != wantErr {
		t.Errorf("stderr:\n got %q\nwant %q", got, wantErr)
	}

	// The same key in two files is listed once.
	c = newCLI(nil)
	if code := c.run(t, "keys", "check", "us-east-1="+cliKeys, keyMap); code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	if n := strings.Count(c.out.String(), "7f3f401420072e50a65a141430817ab3"); n != 1 {
		t.Errorf("the key is listed %d times:\n%s", n, c.out.String())
	}
}

func TestCoverageGaps(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	k := func(group string, from, to int) checkedKey {
		return checkedKey{Key: &keys.Key{ValidFrom: day(from), ValidTo: day(to)}, group: group}
	}
	tests := []struct {
		name string
		keys []checkedKey
		want []keyGap
	}{
		{"none", nil, nil},
		{"one key", []checkedKey{k("a", 1, 5)}, nil},
		{"overlapping", []checkedKey{k("a", 1, 5), k("a", 4, 9)}, nil},
		{"touching", []checkedKey{k("a", 1, 5), k("a", 5, 9)}, nil},
		{"gap", []checkedKey{k("a", 1, 5), k("a", 7, 9)}, []keyGap{{"a", day(5), day(7)}}},
		// A long key covers what a short one does not.
		{"covered by an earlier key", []checkedKey{k("a", 1, 20), k("a", 2, 3), k("a", 10, 25)}, nil},
		{"gap after a short key inside a long one", []checkedKey{k("a", 1, 10), k("a", 2, 3), k("a", 12, 15)}, []keyGap{{"a", day(10), day(12)}}},
		{"groups apart", []checkedKey{k("a", 1, 5), k("b", 10, 15), k("b", 20, 25)}, []keyGap{{"b", day(15), day(20)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := coverageGaps(tt.keys)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("gap %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// editedKeyFile writes the AWS CLI's example key file with one edit.
func editedKeyFile(t *testing.T, name string, edit func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(cliKeys)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(edit(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysCheckBadKeys(t *testing.T) {
	const fp = "7f3f401420072e50a65a141430817ab3"
	junk := []byte("not an RSA key")
	junkSum := md5.Sum(junk)
	junkFP := hex.EncodeToString(junkSum[:])

	wrongFP := editedKeyFile(t, "wrong-fingerprint.json", func(s string) string {
		return strings.Replace(s, fp, "00112233445566778899aabbccddeeff", 1)
	})
	badDER := editedKeyFile(t, "bad-der.json", func(s string) string {
		s = strings.Replace(s, `"MIIB`, `"`+base64.StdEncoding.EncodeToString(junk)+`", "x": "`, 1)
		return strings.Replace(s, fp, junkFP, 1)
	})
	badWindow := editedKeyFile(t, "bad-window.json", func(s string) string {
		return strings.Replace(s, "1455668702.0", "1453076702.0", 1)
	})
	notJSON := editedKeyFile(t, "not-json.json", func(string) string { return "PublicKeyList" })
	noKeys := editedKeyFile(t, "no-keys.json", func(string) string { return `{"PublicKeyList": []}` })
	missing := filepath.Join(t.TempDir(), "missing.json")

	tests := []struct {
		name string
		args []string
		want string // stderr
	}{
		{"wrong fingerprint", []string{wrongFP},
			"trailcheck: error: " + wrongFP + ": key 00112233445566778899aabbccddeeff: fingerprint does not match the key (MD5 of the key is " + fp + ")\n"},
		{"wrong fingerprint with a region", []string{"eu-west-1=" + wrongFP},
			"trailcheck: error: " + wrongFP + ": key 00112233445566778899aabbccddeeff: fingerprint does not match the key (MD5 of the key is " + fp + ")\n"},
		{"bad DER", []string{badDER},
			"trailcheck: error: " + badDER + ": key " + junkFP + ": not a DER RSA public key (PKCS#1 or SubjectPublicKeyInfo)\n"},
		{"bad window", []string{badWindow},
			"trailcheck: error: " + badWindow + ": key " + fp + ": validity end 2016-01-18T00:25:02Z is not after start 2016-01-18T00:25:02Z\n"},
		{"not JSON", []string{notJSON},
			"trailcheck: error: " + notJSON + ": not a JSON object: invalid character 'P' looking for beginning of value at byte 1\n"},
		{"no keys", []string{noKeys},
			"trailcheck: error: " + noKeys + ": no keys in the file\n"},
		{"missing file", []string{missing},
			"trailcheck: error: " + missing + ": no such file or directory\n"},
		{"region map given another region", []string{"eu-west-1=" + keyMap},
			"trailcheck: error: " + keyMap + ": file maps region us-east-1 but was given for region eu-west-1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			if code := c.run(t, append([]string{"keys", "check"}, tt.args...)...); code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			if got := c.errOut.String(); got != tt.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.want)
			}
			if c.out.Len() > 0 {
				t.Errorf("stdout: %q", c.out.String())
			}
		})
	}

	// Every file is checked: the good one is listed, each bad one named.
	c := newCLI(nil)
	if code := c.run(t, "keys", "check", wrongFP, keyMap, badWindow); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	wantOut := "REGION     FINGERPRINT                       ENCODING  VALID FROM            VALID TO              DAYS  BITS  STATUS\n" +
		"us-east-1  7f3f401420072e50a65a141430817ab3  PKCS#1    2016-01-18T00:25:02Z  2016-02-17T00:25:02Z  30.0  2048  ok\n"
	if got := c.out.String(); got != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, wantOut)
	}
	if lines := strings.Split(strings.TrimSuffix(c.errOut.String(), "\n"), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], wrongFP) || !strings.Contains(lines[1], badWindow) {
		t.Errorf("stderr:\n%s", c.errOut.String())
	}
}

func TestKeysUsageErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keys.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"check without files", []string{"keys", "check"},
			"trailcheck: error: keys check needs a key FILE or REGION=FILE\ntrailcheck: hint: for example 'trailcheck keys check keys.json' or 'trailcheck keys check us-east-1=keys.json'\n"},
		{"check without a file name", []string{"keys", "check", "us-east-1="},
			"trailcheck: error: \"us-east-1=\": no file name\ntrailcheck: hint: run 'trailcheck keys check --help' for usage\n"},
		{"unknown subcommand", []string{"keys", "chek"},
			"trailcheck: error: unknown command \"chek\" for \"trailcheck keys\"\ntrailcheck: hint: did you mean 'trailcheck keys check'?\n"},
		{"unknown flag", []string{"keys", "fetch", "--bogus"},
			"trailcheck: error: unknown flag: --bogus\ntrailcheck: hint: run 'trailcheck keys fetch --help' for usage\n"},
		{"fetch without regions", []string{"keys", "fetch", "--out", out},
			"trailcheck: error: --region is required: the regions whose keys to fetch\ntrailcheck: hint: for example --region us-east-1 --region eu-west-1\n"},
		{"fetch with a bad region", []string{"keys", "fetch", "--region", "us-east-1,useast2", "--out", out},
			"trailcheck: error: --region \"useast2\" is not an AWS region name (like us-east-1)\n"},
		{"fetch with an empty region", []string{"keys", "fetch", "--region", "us-east-1,", "--out", out},
			"trailcheck: error: --region \"us-east-1,\": empty name\n"},
		{"fetch without --out", []string{"keys", "fetch", "--region", "us-east-1"},
			"trailcheck: error: --out FILE is required\ntrailcheck: hint: for example --out keys.json\n"},
		{"fetch with a bad time", []string{"keys", "fetch", "--region", "us-east-1", "--out", out, "--start-time", "last week"},
			"trailcheck: error: --start-time \"last week\": not a time: use RFC 3339 (2015-01-08T05:21:42Z) or a date (2015-01-08)\n"},
		{"fetch with start after end", []string{"keys", "fetch", "--region", "us-east-1", "--out", out, "--start-time", "2024-02-01", "--end-time", "2024-01-01"},
			"trailcheck: error: --start-time 2024-02-01T00:00:00Z is after --end-time 2024-01-01T00:00:00Z\n"},
		{"fetch with an argument", []string{"keys", "fetch", "us-east-1"},
			"trailcheck: error: keys fetch takes no arguments, got \"us-east-1\"\ntrailcheck: hint: run 'trailcheck keys fetch --help' for usage\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(nil)
			if code := c.run(t, tt.args...); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if got := c.errOut.String(); got != tt.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tt.want)
			}
			if c.out.Len() > 0 {
				t.Errorf("stdout: %q", c.out.String())
			}
		})
	}
}

func TestKeysFetchOptions(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 30, 45, 500, time.UTC)
	var o KeysFetchOptions
	o.Regions = []string{"us-east-1,eu-west-1", "us-east-1"}
	o.Out = "k.json"
	if err := o.parse("", "", now); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Regions, " "); got != "us-east-1 eu-west-1" {
		t.Errorf("regions %q", got)
	}
	// By default: the 90 days up to now.
	if want := time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC); !o.End.Equal(want) || !o.Start.Equal(want.Add(-90*24*time.Hour)) {
		t.Errorf("period %v to %v", o.Start, o.End)
	}
	// An end time alone moves the default start with it.
	o = KeysFetchOptions{Regions: []string{"us-east-1"}, Out: "k.json"}
	if err := o.parse("", "2024-03-01", now); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC); !o.End.Equal(want) || !o.Start.Equal(want.Add(-90*24*time.Hour)) {
		t.Errorf("period %v to %v", o.Start, o.End)
	}
}

// keysFrom loads a genuine key file, labelling its keys with region.
func keysFrom(t *testing.T, file, region string) []*keys.Key {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.Parse(file, data, region)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestKeysFetch(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{KeysPageSize: 1}) // a page per key
	srv.SetKeys("us-east-1", keysFrom(t, docsKeys, "us-east-1"))
	srv.SetKeys("eu-west-1", keysFrom(t, cliKeys, "eu-west-1"))
	dir := t.TempDir()
	out := filepath.Join(dir, "keys.json")

	c := newCLI(nil)
	code := c.run(t, "keys", "fetch", "--region", "us-east-1", "--region", "eu-west-1",
		"--start-time", "2015-06-01", "--end-time", "2016-03-01", "--out", out)
	if code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	if c.out.Len() > 0 {
		t.Errorf("stdout: %q", c.out.String())
	}
	if want := "trailcheck: saved 4 public keys of 2 regions to " + out + "\n"; c.errOut.String() != want {
		t.Errorf("stderr:\n got %q\nwant %q", c.errOut.String(), want)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := keys.Parse(out, data, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range got {
		ids = append(ids, k.Region+"/"+k.Fingerprint)
	}
	want := "eu-west-1/7f3f401420072e50a65a141430817ab3 us-east-1/31e8b5433410dfb61a9dc45cc65b22ff us-east-1/8933b39ddc64d26d8e14ffbf6566fee4 us-east-1/8eba5db5bea9b640d1c96a77256fe7f2"
	if strings.Join(ids, " ") != want {
		t.Errorf("saved %s\nwant  %s", strings.Join(ids, " "), want)
	}
	// Keys are saved as CloudTrail lists them: the SPKI key stays SPKI.
	if !strings.Contains(string(data), `"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao`) {
		t.Error("the SPKI key was not saved as listed")
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left next to the key file: %v", ents)
	}

	// The saved file is what validate and keys check read.
	c = newCLI(nil)
	if code := c.run(t, "keys", "check", out); code != exitValid {
		t.Fatalf("keys check: exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	if n := strings.Count(c.out.String(), " ok\n"); n != 4 {
		t.Errorf("keys check listed %d keys:\n%s", n, c.out.String())
	}

	// Only keys of the period, and a region with none is a warning; the
	// file is replaced.
	c = newCLI(nil)
	code = c.run(t, "keys", "fetch", "--region", "us-east-1,ap-south-1",
		"--start-time", "2015-06-01", "--end-time", "2015-06-30", "--out", out)
	if code != exitValid {
		t.Fatalf("exit code %d, stderr:\n%s", code, c.errOut.String())
	}
	wantErr := "trailcheck: warning: CloudTrail listed no public keys in ap-south-1 for 2015-06-01T00:00:00Z to 2015-06-30T00:00:00Z\n" +
		"trailcheck: saved 2 public keys of 1 region to " + out + "\n"
	if c.errOut.String() != wantErr {
		t.Errorf("stderr:\n got %q\nwant %q", c.errOut.String(), wantErr)
	}
	data, _ = os.ReadFile(out)
	if got, err := keys.Parse(out, data, ""); err != nil || len(got) != 2 {
		t.Errorf("saved %d keys, %v", len(got), err)
	}
}

func TestKeysFetchFailures(t *testing.T) {
	srv := standin.StartTest(t, standin.Options{AccessKeyID: "AKIASTANDINTEST"})
	srv.SetKeys("us-east-1", keysFrom(t, docsKeys, "us-east-1"))
	dir := t.TempDir()
	out := filepath.Join(dir, "keys.json")

	// No keys at all (the default period, the last 90 days, has none of
	// 2015's): nothing is written.
	c := newCLI(nil)
	if code := c.run(t, "keys", "fetch", "--region", "us-east-1", "--out", out); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if got := c.errOut.String(); !strings.HasPrefix(got, "trailcheck: error: CloudTrail listed no public keys in us-east-1 for ") ||
		!strings.HasSuffix(got, "\ntrailcheck: hint: check the regions and the period\n") {
		t.Errorf("stderr: %q", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a file was written: %v", err)
	}

	// The output directory does not exist.
	c = newCLI(nil)
	bad := filepath.Join(dir, "missing", "keys.json")
	if code := c.run(t, "keys", "fetch", "--region", "us-east-1", "--start-time", "2015-06-01", "--end-time", "2015-07-01", "--out", bad); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if want := "trailcheck: error: --out " + bad + ": no such file or directory\n"; c.errOut.String() != want {
		t.Errorf("stderr:\n got %q\nwant %q", c.errOut.String(), want)
	}

	// Credentials the service refuses.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
	c = newCLI(nil)
	if code := c.run(t, "keys", "fetch", "--region", "us-east-1", "--start-time", "2015-06-01", "--out", out); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	lines := strings.Split(strings.TrimSuffix(c.errOut.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "trailcheck: error: list CloudTrail public keys in us-east-1 for ") ||
		!strings.Contains(lines[0], "access denied") || !strings.HasPrefix(lines[1], "trailcheck: hint: ") {
		t.Errorf("stderr:\n%s", c.errOut.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a file was written: %v", err)
	}
}
