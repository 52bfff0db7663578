package digest

import (
	"math/rand/v2"
	"testing"
)

// TestParseLogKeyFastAgrees mutates valid keys at random and checks that
// the fast path accepts only what the regular expression accepts, with the
// same result.
func TestParseLogKeyFastAgrees(t *testing.T) {
	bases := []string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz",
		"p/q/AWSLogs/o-abcdefghij/111122223333/CloudTrail/us-gov-west-1/2026/01/31/111122223333_CloudTrail_us-gov-west-1_20260131T2359Z_ZZZZZZZZZZZZZZZZ.json.gz",
		"AWSLogs/AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/2026/02/03/111122223333_CloudTrail_eu-west-1_20260203T1015Z_0000000000000000.json.gz",
	}
	alphabet := "/_-.0123456789aoAZTzCloudTrailAWSLogsjsongz"
	r := rand.New(rand.NewPCG(1, 2))
	fastHits := 0
	for n := 0; n < 60000; n++ {
		k := []byte(bases[n%len(bases)])
		for m := r.IntN(3); m >= 0 && n%7 != 0; m-- {
			i := r.IntN(len(k))
			switch r.IntN(3) {
			case 0:
				k[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				k = append(k[:i], k[i+1:]...)
			default:
				k = append(k[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, k[i:]...)...)
			}
		}
		key := string(k)
		fast, ok := parseLogKeyFast(key)
		if !ok {
			continue
		}
		fastHits++
		slow, err := parseLogKeyRE(key)
		if err != nil {
			t.Fatalf("fast path accepted %q, the regular expression does not: %v", key, err)
		}
		if fast.Location != slow.Location || !fast.Time.Equal(slow.Time) {
			t.Fatalf("%q: fast %+v, regexp %+v", key, fast, slow)
		}
	}
	if fastHits < 1000 {
		t.Fatalf("only %d keys took the fast path", fastHits)
	}
	for _, b := range bases {
		if _, ok := parseLogKeyFast(b); !ok {
			t.Errorf("fast path refused %q", b)
		}
	}
}

func BenchmarkParseLogKey(b *testing.B) {
	key := "AWSLogs/o-abcdefghij/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0005Z_abcdEFGH12345678.json.gz"
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseLogKey(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseLogKeyRE(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
