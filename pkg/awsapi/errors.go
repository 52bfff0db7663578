package awsapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/trailcheck/trailcheck/pkg/store"
)

// Refusal says why AWS refused a request.
type Refusal int

// Refusals.
const (
	// NotRefused: the error is no refusal.
	NotRefused Refusal = iota
	// Forbidden: the credentials are valid but lack a permission.
	Forbidden
	// BadCredentials: AWS rejected the credentials (unknown key, wrong
	// secret, malformed token).
	BadCredentials
	// Expired: the credentials (a session token) have expired.
	Expired
	// NoCredentials: no credentials could be found or retrieved.
	NoCredentials
	// RoleRefused: assuming the role was refused.
	RoleRefused
)

// Error codes of refusals, across S3 (XML), the JSON services and STS.
var (
	forbiddenCodes = map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "AllAccessDisabled": true,
		"AccountProblem": true, "UnauthorizedOperation": true, "AuthorizationError": true,
		"InsufficientAccessPermissions": true, "OptInRequired": true,
	}
	badCredentialCodes = map[string]bool{
		"InvalidAccessKeyId": true, "SignatureDoesNotMatch": true, "InvalidClientTokenId": true,
		"UnrecognizedClientException": true, "InvalidSignatureException": true, "AuthFailure": true,
		"InvalidToken": true, "IncompleteSignature": true, "MissingAuthenticationToken": true,
	}
	expiredCodes = map[string]bool{
		"ExpiredToken": true, "ExpiredTokenException": true, "TokenRefreshRequired": true,
		"RequestExpired": true,
	}
)

// Classify says whether err (from an AWS SDK call) is a refusal, and which.
// A cancelled or timed-out context is never a refusal.
func Classify(err error) Refusal {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return NotRefused
	}
	credsFailed := strings.Contains(err.Error(), "get credentials:") ||
		strings.Contains(err.Error(), "failed to retrieve credentials") ||
		strings.Contains(err.Error(), "failed to refresh cached credentials")
	if credsFailed {
		// An AssumeRole that failed shows as an STS operation error inside
		// the credential error.
		for e := err; e != nil; e = errors.Unwrap(e) {
			if op, ok := e.(*smithy.OperationError); ok && op.ServiceID == "STS" && strings.HasPrefix(op.OperationName, "AssumeRole") {
				if Classify(op.Err) != NotRefused {
					return RoleRefused
				}
				// STS unreachable or failing: not a refusal.
				return NotRefused
			}
		}
		return NoCredentials
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch {
		case forbiddenCodes[code]:
			return Forbidden
		case badCredentialCodes[code]:
			return BadCredentials
		case expiredCodes[code]:
			return Expired
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden {
		// HEAD responses have no body, so no code: a 403 is a refusal.
		return Forbidden
	}
	return NotRefused
}

// IsAccessDenied reports whether err is a refusal of any kind.
func IsAccessDenied(err error) bool { return Classify(err) != NotRefused }

// DeniedError is an AWS refusal, explained: which call, on what, and the
// IAM permission it needs. It wraps store.ErrAccessDenied and the SDK's
// error.
type DeniedError struct {
	Refusal    Refusal
	Action     string // what was being done, e.g. "list s3://bucket/prefix"
	Permission string // e.g. "s3:ListBucket"
	Err        error
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	b.WriteString(e.Action)
	b.WriteString(": ")
	switch e.Refusal {
	case BadCredentials:
		b.WriteString("access denied: AWS rejected the credentials (unknown access key or wrong secret)")
	case Expired:
		b.WriteString("access denied: the AWS credentials have expired")
	case NoCredentials:
		b.WriteString("access denied: no AWS credentials found (environment, shared config/credentials files, SSO, or an instance/container role)")
	case RoleRefused:
		b.WriteString("access denied: could not assume the role (it needs sts:AssumeRole, and the role's trust policy must allow the caller)")
	default:
		b.WriteString("access denied: the credentials lack permission " + e.Permission)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns store.ErrAccessDenied and the SDK's error.
func (e *DeniedError) Unwrap() []error { return []error{store.ErrAccessDenied, e.Err} }

// Denied returns err explained as a DeniedError when it is a refusal, and
// err unchanged otherwise. action says what was being done; permission is
// the IAM action the call needs.
func Denied(err error, action, permission string) error {
	r := Classify(err)
	if r == NotRefused {
		return err
	}
	return &DeniedError{Refusal: r, Action: action, Permission: permission, Err: err}
}

// ErrorCode returns the AWS error code of err ("NoSuchKey",
// "TrailNotFoundException"…), or "".
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status of the response that failed with err,
// or 0.
func HTTPStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// ResponseHeader returns a header of the response that failed with err, or
// "" (S3 names a bucket's region in x-amz-bucket-region even on errors).
func ResponseHeader(err error, name string) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}
