package standin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trailcheck/trailcheck/pkg/keys"
)

// DefaultAccount is the account of trails that name none.
const DefaultAccount = "111122223333"

// Trail is a trail as DescribeTrails and GetTrailStatus describe it.
type Trail struct {
	Name              string
	Account           string // owner; "" means DefaultAccount
	HomeRegion        string
	Bucket            string
	Prefix            string // S3KeyPrefix, without a trailing slash
	MultiRegion       bool
	Organization      bool
	LogFileValidation bool

	// Status, for GetTrailStatus.
	Stopped              bool // IsLogging is !Stopped
	StartLogging         time.Time
	StopLogging          time.Time
	LatestDigestDelivery time.Time
}

// ARN is arn:aws:cloudtrail:HOME:ACCOUNT:trail/NAME.
func (t Trail) ARN() string {
	acct := t.Account
	if acct == "" {
		acct = DefaultAccount
	}
	return "arn:aws:cloudtrail:" + t.HomeRegion + ":" + acct + ":trail/" + t.Name
}

// SetTrails replaces the trails.
func (s *Server) SetTrails(trails ...Trail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trails = append([]Trail(nil), trails...)
}

// SetKeys replaces region's public keys.
func (s *Server) SetKeys(region string, ks []*keys.Key) {
	ws := make([]keys.WireKey, len(ks))
	for i, k := range ks {
		ws[i] = k.ToWire()
	}
	s.SetWireKeys(region, ws)
}

// SetWireKeys replaces region's public keys with keys as CloudTrail lists
// them, unchecked: a test may serve a key whose fingerprint is wrong.
func (s *Server) SetWireKeys(region string, ws []keys.WireKey) {
	ws = append([]keys.WireKey(nil), ws...)
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].ValidityStartTime.Before(ws[j].ValidityStartTime.Time) })
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[region] = ws
}

// Organization is what DescribeOrganization returns.
type Organization struct {
	ID                string // o-…
	ManagementAccount string
}

// Account is a member account, as ListAccounts returns it.
type Account struct {
	ID     string
	Name   string // "" means "account-ID"
	Status string // "" means ACTIVE
}

// SetOrganization makes the caller's account part of org. Without it the
// Organizations operations answer AWSOrganizationsNotInUseException.
func (s *Server) SetOrganization(org Organization) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org = &org
}

// SetAccounts replaces the organization's member accounts (and sets up an
// organization if there is none, managed by the first account).
func (s *Server) SetAccounts(accounts ...Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = append([]Account(nil), accounts...)
	if s.org == nil && len(accounts) > 0 {
		s.org = &Organization{ID: "o-standin123", ManagementAccount: accounts[0].ID}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}

// epoch is a time as the JSON protocols send it: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64)), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

func parseEpoch(n *json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("not a timestamp: %s", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func regionOf(req Request) string {
	if req.Region == "" {
		return "us-east-1"
	}
	return req.Region
}

func (s *Server) serveCloudTrail(w http.ResponseWriter, r *http.Request, req Request) {
	switch req.Op {
	case "ListPublicKeys":
		s.listPublicKeys(w, r, req)
	case "DescribeTrails":
		s.describeTrails(w, r, req)
	case "GetTrailStatus":
		s.getTrailStatus(w, r, req)
	default:
		writeError(w, req.Service, "UnknownOperationException", "standin: CloudTrail operation "+req.Op+" is not implemented")
	}
}

func (s *Server) listPublicKeys(w http.ResponseWriter, r *http.Request, req Request) {
	var in struct {
		StartTime *json.Number
		EndTime   *json.Number
		NextToken *string
	}
	if err := readJSON(r, &in); err != nil {
		writeError(w, req.Service, "SerializationException", err.Error())
		return
	}
	now := s.now().UTC()
	start, end := now, now
	var err error
	if in.StartTime != nil {
		if start, err = parseEpoch(in.StartTime); err != nil {
			writeError(w, req.Service, "InvalidTimeRangeException", err.Error())
			return
		}
	}
	if in.EndTime != nil {
		if end, err = parseEpoch(in.EndTime); err != nil {
			writeError(w, req.Service, "InvalidTimeRangeException", err.Error())
			return
		}
	}
	if start.After(end) {
		writeError(w, req.Service, "InvalidTimeRangeException", "Start time occurs after end time.")
		return
	}
	offset := 0
	if in.NextToken != nil {
		b, err := base64.StdEncoding.DecodeString(*in.NextToken)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "keys:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "keys:") || n < 0 {
			writeError(w, req.Service, "InvalidTokenException", "Reset token is invalid.")
			return
		}
		offset = n
	}
	s.mu.Lock()
	var match []keys.WireKey
	for _, k := range s.keys[regionOf(req)] {
		if !k.ValidityStartTime.After(end) && !k.ValidityEndTime.Before(start) {
			match = append(match, k)
		}
	}
	s.mu.Unlock()
	out := struct {
		PublicKeyList []keys.WireKey
		NextToken     string `json:",omitempty"`
	}{PublicKeyList: []keys.WireKey{}}
	if offset < len(match) {
		stop := min(offset+s.opts.KeysPageSize, len(match))
		out.PublicKeyList = match[offset:stop]
		if stop < len(match) {
			out.NextToken = base64.StdEncoding.EncodeToString([]byte("keys:" + strconv.Itoa(stop)))
		}
	}
	writeJSON(w, out)
}

type wireTrail struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string `json:",omitempty"`
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	HomeRegion                 string
	TrailARN                   string
	LogFileValidationEnabled   bool
	HasCustomEventSelectors    bool
	HasInsightSelectors        bool
	IsOrganizationTrail        bool
}

// visible reports whether t is described in region: its home region, or
// any region for a multi-region trail when shadow trails are included.
func visible(t Trail, region string, shadows bool) bool {
	return t.HomeRegion == region || (t.MultiRegion && shadows)
}

func (s *Server) findTrail(nameOrARN, region string, shadows bool) (Trail, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trails {
		if nameOrARN == t.ARN() || (nameOrARN == t.Name && visible(t, region, shadows)) {
			return t, true
		}
	}
	return Trail{}, false
}

func (s *Server) describeTrails(w http.ResponseWriter, r *http.Request, req Request) {
	var in struct {
		TrailNameList       []string `json:"trailNameList"`
		IncludeShadowTrails *bool    `json:"includeShadowTrails"`
	}
	if err := readJSON(r, &in); err != nil {
		writeError(w, req.Service, "SerializationException", err.Error())
		return
	}
	shadows := in.IncludeShadowTrails == nil || *in.IncludeShadowTrails
	region := regionOf(req)
	var found []Trail
	if len(in.TrailNameList) == 0 {
		s.mu.Lock()
		for _, t := range s.trails {
			if visible(t, region, shadows) {
				found = append(found, t)
			}
		}
		s.mu.Unlock()
	}
	for _, n := range in.TrailNameList {
		if t, ok := s.findTrail(n, region, shadows); ok {
			found = append(found, t)
		}
	}
	out := struct {
		TrailList []wireTrail `json:"trailList"`
	}{TrailList: []wireTrail{}}
	for _, t := range found {
		out.TrailList = append(out.TrailList, wireTrail{
			Name:                       t.Name,
			S3BucketName:               t.Bucket,
			S3KeyPrefix:                t.Prefix,
			IncludeGlobalServiceEvents: true,
			IsMultiRegionTrail:         t.MultiRegion,
			HomeRegion:                 t.HomeRegion,
			TrailARN:                   t.ARN(),
			LogFileValidationEnabled:   t.LogFileValidation,
			IsOrganizationTrail:        t.Organization,
		})
	}
	writeJSON(w, out)
}

func (s *Server) getTrailStatus(w http.ResponseWriter, r *http.Request, req Request) {
	var in struct{ Name string }
	if err := readJSON(r, &in); err != nil {
		writeError(w, req.Service, "SerializationException", err.Error())
		return
	}
	t, ok := s.findTrail(in.Name, regionOf(req), true)
	if !ok {
		writeError(w, req.Service, "TrailNotFoundException", "Unknown trail: "+in.Name+" for the user: "+DefaultAccount)
		return
	}
	writeJSON(w, struct {
		IsLogging                bool
		LatestDigestDeliveryTime *epoch `json:",omitempty"`
		LatestDeliveryTime       *epoch `json:",omitempty"`
		StartLoggingTime         *epoch `json:",omitempty"`
		StopLoggingTime          *epoch `json:",omitempty"`
	}{
		IsLogging:                !t.Stopped,
		LatestDigestDeliveryTime: epochPtr(t.LatestDigestDelivery),
		LatestDeliveryTime:       epochPtr(t.LatestDigestDelivery),
		StartLoggingTime:         epochPtr(t.StartLogging),
		StopLoggingTime:          epochPtr(t.StopLogging),
	})
}

func (s *Server) serveOrganizations(w http.ResponseWriter, r *http.Request, req Request) {
	s.mu.Lock()
	org := s.org
	accounts := append([]Account(nil), s.accounts...)
	s.mu.Unlock()
	if org == nil && (req.Op == "ListAccounts" || req.Op == "DescribeOrganization") {
		writeError(w, req.Service, "AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
		return
	}
	switch req.Op {
	case "DescribeOrganization":
		writeJSON(w, map[string]any{"Organization": map[string]any{
			"Id":                   org.ID,
			"Arn":                  "arn:aws:organizations::" + org.ManagementAccount + ":organization/" + org.ID,
			"FeatureSet":           "ALL",
			"MasterAccountId":      org.ManagementAccount,
			"MasterAccountArn":     "arn:aws:organizations::" + org.ManagementAccount + ":account/" + org.ID + "/" + org.ManagementAccount,
			"MasterAccountEmail":   "management@example.com",
			"AvailablePolicyTypes": []any{},
		}})
	case "ListAccounts":
		var in struct {
			MaxResults *int
			NextToken  *string
		}
		if err := readJSON(r, &in); err != nil {
			writeError(w, req.Service, "SerializationException", err.Error())
			return
		}
		size := s.opts.AccountsPageSize
		if in.MaxResults != nil {
			if *in.MaxResults < 1 || *in.MaxResults > 20 {
				writeError(w, req.Service, "InvalidInputException", "MaxResults must be between 1 and 20")
				return
			}
			size = min(size, *in.MaxResults)
		}
		offset := 0
		if in.NextToken != nil {
			b, err := base64.StdEncoding.DecodeString(*in.NextToken)
			n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "accounts:"))
			if err != nil || err2 != nil || !strings.HasPrefix(string(b), "accounts:") || n < 0 {
				writeError(w, req.Service, "InvalidInputException", "The NextToken is not valid.")
				return
			}
			offset = n
		}
		type wireAccount struct {
			ID              string `json:"Id"`
			Arn             string
			Email           string
			Name            string
			Status          string
			State           string
			JoinedMethod    string
			JoinedTimestamp epoch
		}
		out := struct {
			Accounts  []wireAccount
			NextToken string `json:",omitempty"`
		}{Accounts: []wireAccount{}}
		if offset < len(accounts) {
			stop := min(offset+size, len(accounts))
			for _, a := range accounts[offset:stop] {
				name, status := a.Name, a.Status
				if name == "" {
					name = "account-" + a.ID
				}
				if status == "" {
					status = "ACTIVE"
				}
				out.Accounts = append(out.Accounts, wireAccount{
					ID: a.ID, Name: name, Status: status, State: status, JoinedMethod: "CREATED",
					Arn:             "arn:aws:organizations::" + org.ManagementAccount + ":account/" + org.ID + "/" + a.ID,
					Email:           a.ID + "@example.com",
					JoinedTimestamp: epoch(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
				})
			}
			if stop < len(accounts) {
				out.NextToken = base64.StdEncoding.EncodeToString([]byte("accounts:" + strconv.Itoa(stop)))
			}
		}
		writeJSON(w, out)
	default:
		writeError(w, req.Service, "UnknownOperationException", "standin: Organizations operation "+req.Op+" is not implemented")
	}
}

const stsXMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

// serveSTS answers AssumeRole (handing out credentials the server then
// accepts) and GetCallerIdentity.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, req Request) {
	type meta struct {
		RequestID string `xml:"RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	switch req.Op {
	case "AssumeRole":
		role := r.PostForm.Get("RoleArn")
		session := r.PostForm.Get("RoleSessionName")
		if role == "" || session == "" {
			writeError(w, "sts", "ValidationError", "RoleArn and RoleSessionName are required")
			return
		}
		s.mu.Lock()
		ak := fmt.Sprintf("ASIASTANDIN%09d", len(s.issuedKeys)+1)
		s.issuedKeys[ak] = true
		s.mu.Unlock()
		type creds struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		type user struct {
			Arn           string
			AssumedRoleID string `xml:"AssumedRoleId"`
		}
		type result struct {
			Credentials     creds
			AssumedRoleUser user
		}
		roleName := role[strings.LastIndex(role, "/")+1:]
		xml.NewEncoder(w).Encode(struct {
			XMLName          xml.Name `xml:"AssumeRoleResponse"`
			Xmlns            string   `xml:"xmlns,attr"`
			AssumeRoleResult result
			ResponseMetadata meta
		}{
			Xmlns: stsXMLNS,
			AssumeRoleResult: result{
				Credentials: creds{
					AccessKeyID: ak, SecretAccessKey: "standin-assumed-secret", SessionToken: "standin-session-" + ak,
					Expiration: s.now().Add(time.Hour).UTC().Format(time.RFC3339),
				},
				AssumedRoleUser: user{
					Arn:           "arn:aws:sts::" + DefaultAccount + ":assumed-role/" + roleName + "/" + session,
					AssumedRoleID: "AROASTANDIN:" + session,
				},
			},
			ResponseMetadata: meta{RequestID: "standin"},
		})
	case "GetCallerIdentity":
		type result struct {
			Arn     string
			UserID  string `xml:"UserId"`
			Account string
		}
		xml.NewEncoder(w).Encode(struct {
			XMLName                 xml.Name `xml:"GetCallerIdentityResponse"`
			Xmlns                   string   `xml:"xmlns,attr"`
			GetCallerIdentityResult result
			ResponseMetadata        meta
		}{
			Xmlns:                   stsXMLNS,
			GetCallerIdentityResult: result{Arn: "arn:aws:iam::" + DefaultAccount + ":user/standin", UserID: "AIDASTANDIN", Account: DefaultAccount},
			ResponseMetadata:        meta{RequestID: "standin"},
		})
	default:
		writeError(w, "sts", "InvalidAction", "standin: STS action "+req.Op+" is not implemented")
	}
}
