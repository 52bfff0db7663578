package trailgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// record is one CloudTrail event, with fields in the order CloudTrail writes
// them.
type record struct {
	EventVersion       string       `json:"eventVersion"`
	UserIdentity       userIdentity `json:"userIdentity"`
	EventTime          string       `json:"eventTime"`
	EventSource        string       `json:"eventSource"`
	EventName          string       `json:"eventName"`
	AWSRegion          string       `json:"awsRegion"`
	SourceIPAddress    string       `json:"sourceIPAddress"`
	UserAgent          string       `json:"userAgent"`
	RequestParameters  any          `json:"requestParameters"`
	ResponseElements   any          `json:"responseElements"`
	RequestID          string       `json:"requestID"`
	EventID            string       `json:"eventID"`
	ReadOnly           bool         `json:"readOnly"`
	EventType          string       `json:"eventType"`
	ManagementEvent    bool         `json:"managementEvent"`
	RecipientAccountID string       `json:"recipientAccountId"`
	EventCategory      string       `json:"eventCategory"`
	TLSDetails         *tlsDetails  `json:"tlsDetails,omitempty"`
}

type userIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *sessionContext `json:"sessionContext,omitempty"`
	InvokedBy      string          `json:"invokedBy,omitempty"`
}

type sessionContext struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	Attributes struct {
		CreationDate     string `json:"creationDate"`
		MFAAuthenticated string `json:"mfaAuthenticated"`
	} `json:"attributes"`
}

type tlsDetails struct {
	TLSVersion               string `json:"tlsVersion"`
	CipherSuite              string `json:"cipherSuite"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
}

// m is a JSON object; encoding/json writes map keys sorted, so output is
// deterministic.
type m = map[string]any

// eventKind is one kind of API call the generator records.
type eventKind struct {
	source, name string
	readOnly     bool
	weight       int
	params       func(g *eventGen) any
	response     func(g *eventGen) any
}

var eventKinds = []eventKind{
	{"ec2.amazonaws.com", "DescribeInstances", true, 10, func(g *eventGen) any {
		return m{"instancesSet": m{}, "filterSet": m{}}
	}, nil},
	{"s3.amazonaws.com", "ListBuckets", true, 6, func(g *eventGen) any {
		return m{"Host": "s3." + g.region + ".amazonaws.com"}
	}, nil},
	{"sts.amazonaws.com", "GetCallerIdentity", true, 8, nil, nil},
	{"sts.amazonaws.com", "AssumeRole", true, 6, func(g *eventGen) any {
		return m{"roleArn": "arn:aws:iam::" + g.account + ":role/" + g.pick(roleNames), "roleSessionName": "session-" + g.alnum(8), "durationSeconds": 3600}
	}, func(g *eventGen) any {
		return m{"credentials": m{"accessKeyId": "ASIA" + g.upper(16), "sessionToken": g.alnum(48), "expiration": g.now.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")},
			"assumedRoleUser": m{"assumedRoleId": "AROA" + g.upper(17) + ":session", "arn": "arn:aws:sts::" + g.account + ":assumed-role/" + g.pick(roleNames) + "/session"}}
	}},
	{"iam.amazonaws.com", "ListRoles", true, 3, func(g *eventGen) any { return m{"maxItems": 100} }, nil},
	{"kms.amazonaws.com", "Decrypt", true, 8, func(g *eventGen) any {
		return m{"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": m{"aws:lambda:FunctionArn": "arn:aws:lambda:" + g.region + ":" + g.account + ":function:" + g.pick(functionNames)}}
	}, nil},
	{"logs.amazonaws.com", "CreateLogStream", false, 5, func(g *eventGen) any {
		return m{"logGroupName": "/aws/lambda/" + g.pick(functionNames), "logStreamName": g.now.Format("2006/01/02") + "/[$LATEST]" + g.hex(32)}
	}, nil},
	{"lambda.amazonaws.com", "ListFunctions20150331", true, 3, nil, nil},
	{"ssm.amazonaws.com", "GetParameter", true, 5, func(g *eventGen) any {
		return m{"name": "/" + g.pick(functionNames) + "/config", "withDecryption": true}
	}, nil},
	{"dynamodb.amazonaws.com", "DescribeTable", true, 3, func(g *eventGen) any {
		return m{"tableName": g.pick(tableNames)}
	}, nil},
	{"ec2.amazonaws.com", "RunInstances", false, 1, func(g *eventGen) any {
		return m{"instanceType": "t3.micro", "instancesSet": m{"items": []any{m{"imageId": "ami-" + g.hex(17), "minCount": 1, "maxCount": 1}}}}
	}, func(g *eventGen) any {
		return m{"requestId": g.uuid(), "reservationId": "r-" + g.hex(17), "ownerId": g.account,
			"instancesSet": m{"items": []any{m{"instanceId": "i-" + g.hex(17), "instanceType": "t3.micro", "instanceState": m{"code": 0, "name": "pending"}}}}}
	}},
	{"cloudtrail.amazonaws.com", "DescribeTrails", true, 2, func(g *eventGen) any {
		return m{"trailNameList": []any{}, "includeShadowTrails": true}
	}, nil},
}

var (
	roleNames     = []string{"Admin", "ReadOnly", "DeployRole", "OrganizationAccountAccessRole"}
	functionNames = []string{"orders-api", "billing-worker", "thumbnailer", "audit-export"}
	tableNames    = []string{"orders", "customers", "sessions"}
	userNames     = []string{"alice", "bob", "ci-deployer"}
	userAgents    = []string{
		"aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#cloudtrail.describe-trails",
		"Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 os/linux#5.10.223 md/arch#x86_64 lang/python#3.12.5 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.10",
		"aws-sdk-go-v2/1.30.4 ua/2.0 os/linux lang/go#1.23.0 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.177.0",
		"console.amazonaws.com",
		"AWS Internal",
	}
)

var totalWeight = func() int {
	n := 0
	for _, k := range eventKinds {
		n += k.weight
	}
	return n
}()

// eventGen writes the records of one chain's log files.
type eventGen struct {
	r       *rand.Rand
	account string
	region  string
	now     time.Time // the record being written
	buf     bytes.Buffer
	enc     *json.Encoder
}

func newEventGen(r *rand.Rand, account, region string) *eventGen {
	g := &eventGen{r: r, account: account, region: region}
	g.enc = json.NewEncoder(&g.buf)
	g.enc.SetEscapeHTML(false)
	return g
}

const alnumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *eventGen) fromSet(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[g.r.IntN(len(set))]
	}
	return string(b)
}

func (g *eventGen) alnum(n int) string { return g.fromSet(alnumChars, n) }
func (g *eventGen) upper(n int) string { return g.fromSet(alnumChars[:26]+"234567", n) }
func (g *eventGen) hex(n int) string   { return g.fromSet("0123456789abcdef", n) }

func (g *eventGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *eventGen) uuid() string {
	h := g.hex(32)
	v := "89ab"[g.r.IntN(4)]
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string(v) + h[17:20] + "-" + h[20:32]
}

func (g *eventGen) ip() string {
	nets := []string{"203.0.113.", "198.51.100.", "192.0.2."}
	return fmt.Sprintf("%s%d", g.pick(nets), 1+g.r.IntN(254))
}

// identity returns a caller of account.
func (g *eventGen) identity() userIdentity {
	switch g.r.IntN(3) {
	case 0:
		u := g.pick(userNames)
		return userIdentity{Type: "IAMUser", PrincipalID: "AIDA" + g.upper(17), ARN: "arn:aws:iam::" + g.account + ":user/" + u,
			AccountID: g.account, AccessKeyID: "AKIA" + g.upper(16), UserName: u}
	default:
		role := g.pick(roleNames)
		sc := &sessionContext{}
		sc.SessionIssuer.Type = "Role"
		sc.SessionIssuer.PrincipalID = "AROA" + g.upper(17)
		sc.SessionIssuer.ARN = "arn:aws:iam::" + g.account + ":role/" + role
		sc.SessionIssuer.AccountID = g.account
		sc.SessionIssuer.UserName = role
		sc.Attributes.CreationDate = g.now.Add(-time.Duration(g.r.IntN(3600)) * time.Second).Format("2006-01-02T15:04:05Z")
		sc.Attributes.MFAAuthenticated = "false"
		return userIdentity{Type: "AssumedRole", PrincipalID: sc.SessionIssuer.PrincipalID + ":session", ARN: "arn:aws:sts::" + g.account + ":assumed-role/" + role + "/session",
			AccountID: g.account, AccessKeyID: "ASIA" + g.upper(16), SessionContext: sc}
	}
}

// write appends one record (JSON, no newline) to g.buf.
func (g *eventGen) write(rec *record) {
	if err := g.enc.Encode(rec); err != nil {
		// Only maps of strings, numbers and slices are encoded: cannot fail.
		panic(err)
	}
	g.buf.Truncate(g.buf.Len() - 1) // Encode's newline
}

// random appends a random record at time t.
func (g *eventGen) random(t time.Time) {
	g.now = t
	w := g.r.IntN(totalWeight)
	var k eventKind
	for _, k = range eventKinds {
		if w < k.weight {
			break
		}
		w -= k.weight
	}
	rec := g.base(k.source, k.name, k.readOnly)
	if k.params != nil {
		rec.RequestParameters = k.params(g)
	}
	if k.response != nil {
		rec.ResponseElements = k.response(g)
	}
	g.write(rec)
}

func (g *eventGen) base(source, name string, readOnly bool) *record {
	rec := &record{
		EventVersion:       "1.10",
		UserIdentity:       g.identity(),
		EventTime:          g.now.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:        source,
		EventName:          name,
		AWSRegion:          g.region,
		SourceIPAddress:    g.ip(),
		UserAgent:          g.pick(userAgents),
		RequestID:          g.uuid(),
		EventID:            g.uuid(),
		ReadOnly:           readOnly,
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: g.account,
		EventCategory:      "Management",
	}
	if rec.UserAgent == "AWS Internal" {
		rec.SourceIPAddress = "AWS Internal"
	} else {
		host := source
		if i := strings.IndexByte(source, '.'); i > 0 {
			host = source[:i] + "." + g.region + ".amazonaws.com"
		}
		rec.TLSDetails = &tlsDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: host}
	}
	return rec
}

// trailEvent appends a StopLogging or StartLogging record for trailARN at t,
// shaped like the genuine StopLogging event of the test vectors.
func (g *eventGen) trailEvent(name, trailARN string, t time.Time) {
	g.now = t
	rec := g.base("cloudtrail.amazonaws.com", name, false)
	u := "admin"
	rec.UserIdentity = userIdentity{Type: "IAMUser", PrincipalID: "AIDA" + g.upper(17), ARN: "arn:aws:iam::" + g.account + ":user/" + u,
		AccountID: g.account, AccessKeyID: "AKIA" + g.upper(16), UserName: u}
	rec.UserAgent = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#cloudtrail." +
		map[string]string{"StopLogging": "stop-logging", "StartLogging": "start-logging"}[name]
	rec.SourceIPAddress = g.ip()
	rec.RequestParameters = m{"name": trailARN}
	rec.TLSDetails = &tlsDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "cloudtrail." + g.region + ".amazonaws.com"}
	g.write(rec)
}
