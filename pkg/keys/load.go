package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/digest"
)

// MaxFileSize caps a key file. A region has a key a month; even decades of
// keys for every region fit in far less.
const MaxFileSize = 16 << 20

// Epoch is a time given as epoch seconds (a JSON number or a numeric string,
// as CloudTrail's API and `aws cloudtrail list-public-keys` print it) or as
// an RFC 3339 string.
type Epoch struct{ time.Time }

// UnmarshalJSON accepts 1453076702.0, "1436317441.0" and "2016-01-18T00:25:02Z".
func (e *Epoch) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return fmt.Errorf("time is null")
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return fmt.Errorf("time %s is out of range", s)
		}
		sec, frac := math.Modf(f)
		e.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q is neither epoch seconds nor RFC 3339", s)
	}
	e.Time = t.UTC()
	return nil
}

// MarshalJSON writes epoch seconds as `aws cloudtrail list-public-keys` does.
func (e Epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(e.Unix(), 10) + ".0"), nil
}

// WireKey is one element of PublicKeyList as CloudTrail returns it.
type WireKey struct {
	ValidityStartTime Epoch  `json:"ValidityStartTime"`
	ValidityEndTime   Epoch  `json:"ValidityEndTime"`
	Value             string `json:"Value"` // base64 DER
	Fingerprint       string `json:"Fingerprint"`
}

// ListOutput is the shape of `aws cloudtrail list-public-keys` output.
// encoding/json matches field names case-insensitively, so the lower-case
// "publicKeyList" variant of AWS's documentation loads too.
type ListOutput struct {
	PublicKeyList []WireKey `json:"PublicKeyList"`
}

// Parse loads a key file: either one region's `list-public-keys` output
// (keys are then unlabelled, region given by region, which may be empty) or
// a region map {"us-east-1": {"PublicKeyList": [...]}, ...}. name is used
// in errors.
func Parse(name string, data []byte, region string) ([]*Key, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: key file larger than %d bytes", name, MaxFileSize)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", name, jsonErr(err))
	}
	for k, v := range top {
		if strings.EqualFold(k, "PublicKeyList") {
			var list []WireKey
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, fmt.Errorf("%s: PublicKeyList: %v", name, jsonErr(err))
			}
			return fromWire(name, list, region)
		}
	}
	if len(top) == 0 {
		return nil, fmt.Errorf("%s: no keys (expected PublicKeyList or a map of region to PublicKeyList)", name)
	}
	regions := make([]string, 0, len(top))
	for r := range top {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var out []*Key
	for _, r := range regions {
		if !digest.IsRegion(r) {
			return nil, fmt.Errorf("%s: %q is not a region name (expected PublicKeyList or a map of region to PublicKeyList)", name, r)
		}
		if region != "" && region != r {
			return nil, fmt.Errorf("%s: file maps region %s but was given for region %s", name, r, region)
		}
		var lo ListOutput
		if err := json.Unmarshal(top[r], &lo); err != nil {
			return nil, fmt.Errorf("%s: region %s: %v", name, r, jsonErr(err))
		}
		ks, err := fromWire(name+": region "+r, lo.PublicKeyList, r)
		if err != nil {
			return nil, err
		}
		out = append(out, ks...)
	}
	return out, nil
}

func fromWire(name string, list []WireKey, region string) ([]*Key, error) {
	out := make([]*Key, 0, len(list))
	for i, w := range list {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(w.Value))
		if err != nil || len(der) == 0 {
			return nil, fmt.Errorf("%s: key %d (%s): Value is not base64", name, i, w.Fingerprint)
		}
		if w.Fingerprint == "" {
			return nil, fmt.Errorf("%s: key %d: no Fingerprint", name, i)
		}
		k, err := NewKey(der, w.Fingerprint, region, w.ValidityStartTime.Time, w.ValidityEndTime.Time)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// ToWire returns k as CloudTrail's API would list it.
func (k *Key) ToWire() WireKey {
	return WireKey{
		ValidityStartTime: Epoch{k.ValidFrom},
		ValidityEndTime:   Epoch{k.ValidTo},
		Value:             base64.StdEncoding.EncodeToString(k.DER),
		Fingerprint:       k.Fingerprint,
	}
}

// RegionMap renders keys as a region map file. Unlabelled keys are refused.
func RegionMap(keys []*Key) ([]byte, error) {
	m := map[string]*ListOutput{}
	for _, k := range keys {
		if k.Region == "" {
			return nil, fmt.Errorf("key %s has no region", k.Fingerprint)
		}
		if m[k.Region] == nil {
			m[k.Region] = &ListOutput{PublicKeyList: []WireKey{}}
		}
		m[k.Region].PublicKeyList = append(m[k.Region].PublicKeyList, k.ToWire())
	}
	for _, lo := range m {
		sort.Slice(lo.PublicKeyList, func(i, j int) bool {
			return lo.PublicKeyList[i].ValidityStartTime.Before(lo.PublicKeyList[j].ValidityStartTime.Time)
		})
	}
	return json.MarshalIndent(m, "", "  ")
}

func jsonErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}
