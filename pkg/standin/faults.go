package standin

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// FaultKind is a way for a request to fail.
type FaultKind int

// Faults. Each is answered in the protocol of the service asked.
const (
	// SlowDown is throttling: S3's 503 SlowDown, the JSON services' 400
	// ThrottlingException, STS's 400 Throttling.
	SlowDown FaultKind = iota + 1
	// InternalError is a 500: S3's InternalError, elsewhere InternalFailure.
	InternalError
	// Unavailable is a 503 ServiceUnavailable.
	Unavailable
	// Reset closes the connection with a TCP reset before any response.
	Reset
	// Truncate sends the status line and headers of a successful response
	// with the full Content-Length (honouring a Range), then half of the
	// body, then resets the connection: a download that breaks half-way.
	// Other kinds of request than S3 GetObject are reset without a
	// response.
	Truncate
	// AccessDenied is a permission refusal: S3's 403 AccessDenied, the
	// JSON services' 400 AccessDeniedException, STS's 403 AccessDenied.
	AccessDenied
	// ExpiredToken is a request signed with expired credentials.
	ExpiredToken
)

func (k FaultKind) String() string {
	switch k {
	case SlowDown:
		return "SlowDown"
	case InternalError:
		return "InternalError"
	case Unavailable:
		return "Unavailable"
	case Reset:
		return "Reset"
	case Truncate:
		return "Truncate"
	case AccessDenied:
		return "AccessDenied"
	case ExpiredToken:
		return "ExpiredToken"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault makes matching requests fail. Empty match fields match anything.
type Fault struct {
	Op     string // operation, e.g. "GetObject", "ListObjectsV2", "ListPublicKeys"
	Bucket string // S3 bucket
	Key    string // S3 object key, exact
	Region string // signing region
	Kind   FaultKind
	// Times is how many matching requests fail; 0 means all of them.
	Times int

	hits int
}

// Inject adds a fault. Faults are tried in the order injected; the first
// that matches a request and has failures left answers it.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(req Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if (f.Op != "" && f.Op != req.Op) || (f.Bucket != "" && f.Bucket != req.Bucket) ||
			(f.Key != "" && f.Key != req.Key) || (f.Region != "" && f.Region != req.Region) {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		f.hits++
		return f
	}
	return nil
}

// serveFault answers with fault kind k. A reset is recorded with status 0.
func (s *Server) serveFault(w *statusWriter, r *http.Request, req Request, k FaultKind) {
	switch k {
	case Reset:
		w.decide(0)
		reset(w)
	case Truncate:
		if req.Service == "s3" && req.Op == "GetObject" && s.truncate(w, r, req) {
			return
		}
		w.decide(0)
		reset(w)
	case SlowDown:
		writeError(w, req.Service, "SlowDown", "Please reduce your request rate.")
	case InternalError:
		writeError(w, req.Service, "InternalError", "We encountered an internal error. Please try again.")
	case Unavailable:
		writeError(w, req.Service, "ServiceUnavailable", "Service is unable to handle request.")
	case AccessDenied:
		writeError(w, req.Service, "AccessDenied", "User: arn:aws:iam::111122223333:user/standin is not authorized to perform this operation")
	case ExpiredToken:
		writeError(w, req.Service, "ExpiredToken", "The provided token has expired.")
	default:
		writeError(w, req.Service, "InternalError", "unknown fault "+k.String())
	}
}

// truncate sends the status line and headers of the object (or of the
// requested range of it), then half of the body, and resets the
// connection.
func (s *Server) truncate(w *statusWriter, r *http.Request, req Request) bool {
	obj, err := s.backend.GetObject(req.Bucket, req.Key, nil)
	if err != nil {
		return false
	}
	defer obj.Contents.Close()
	data, err := io.ReadAll(obj.Contents)
	if err != nil {
		return false
	}
	status, extra := "200 OK", ""
	if first, last, ok := parseRange(r.Header.Get("Range"), int64(len(data))); ok {
		status = "206 Partial Content"
		extra = fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n", first, last, len(data))
		data = data[first : last+1]
	}
	w.decide(http.StatusOK)
	conn, buf, err := w.Hijack()
	if err != nil {
		return true // decided; the client sees a broken connection
	}
	fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: %d\r\nContent-Type: binary/octet-stream\r\nETag: \"%x\"\r\n%s\r\n",
		status, len(data), obj.Hash, extra)
	buf.Write(data[:len(data)/2])
	buf.Flush()
	abort(conn)
	return true
}

// parseRange parses a single "bytes=first-[last]" range of an object of
// size bytes.
func parseRange(h string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last = size - 1
	if b != "" {
		if l, err := strconv.ParseInt(b, 10, 64); err == nil && l < last {
			last = l
		}
	}
	if last < first {
		return 0, 0, false
	}
	return first, last, true
}

// reset closes the connection under w with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot reset", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	abort(conn)
}

func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// errorFor maps an error code (in S3's terms) to each protocol's code
// and HTTP status.
func errorFor(service, code string) (string, int) {
	switch service {
	case "s3":
		switch code {
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return code, http.StatusForbidden
		case "ExpiredToken", "InvalidRequest":
			return code, http.StatusBadRequest
		case "SlowDown", "ServiceUnavailable":
			return code, http.StatusServiceUnavailable
		case "NoSuchKey", "NoSuchBucket":
			return code, http.StatusNotFound
		case "InternalError":
			return code, http.StatusInternalServerError
		}
		return code, http.StatusBadRequest
	case "sts":
		switch code {
		case "AccessDenied":
			return code, http.StatusForbidden
		case "InvalidAccessKeyId":
			return "InvalidClientTokenId", http.StatusForbidden
		case "ExpiredToken":
			return "ExpiredTokenException", http.StatusBadRequest
		case "SlowDown":
			return "Throttling", http.StatusBadRequest
		case "InternalError":
			return "InternalFailure", http.StatusInternalServerError
		case "ServiceUnavailable":
			return code, http.StatusServiceUnavailable
		}
		return code, http.StatusBadRequest
	default: // JSON protocols
		switch code {
		case "AccessDenied":
			return "AccessDeniedException", http.StatusBadRequest
		case "InvalidAccessKeyId":
			return "UnrecognizedClientException", http.StatusBadRequest
		case "ExpiredToken":
			return "ExpiredTokenException", http.StatusBadRequest
		case "SlowDown":
			return "ThrottlingException", http.StatusBadRequest
		case "InternalError":
			return "InternalFailure", http.StatusInternalServerError
		case "ServiceUnavailable":
			return "ServiceUnavailableException", http.StatusServiceUnavailable
		}
		return code, http.StatusBadRequest
	}
}

// writeError writes an error response in the protocol of service and
// returns the status sent.
func writeError(w http.ResponseWriter, service, code, msg string) int {
	code, status := errorFor(service, code)
	switch service {
	case "s3":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		xml.NewEncoder(w).Encode(struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string
			Message   string
			RequestID string `xml:"RequestId"`
		}{Code: code, Message: msg, RequestID: "standin"})
	case "sts":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		type stsError struct {
			Type    string
			Code    string
			Message string
		}
		xml.NewEncoder(w).Encode(struct {
			XMLName   xml.Name `xml:"ErrorResponse"`
			Xmlns     string   `xml:"xmlns,attr"`
			Error     stsError
			RequestID string `xml:"RequestId"`
		}{Xmlns: stsXMLNS, Error: stsError{Type: "Sender", Code: code, Message: msg}, RequestID: "standin"})
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
	}
	return status
}
