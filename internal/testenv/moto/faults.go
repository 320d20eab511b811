package moto

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Always is the rule count that applies the rule to every matching call.
const Always = -1

// Operation names of the asynchronous assignment calls, as they appear in
// the X-Amz-Target header after "SWBExternalService.".
const (
	OpCreateAccountAssignment = "CreateAccountAssignment"
	OpDeleteAccountAssignment = "DeleteAccountAssignment"
	OpDescribeCreationStatus  = "DescribeAccountAssignmentCreationStatus"
	OpDescribeDeletionStatus  = "DescribeAccountAssignmentDeletionStatus"
)

// Assignment operation states, as AWS spells them.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSucceeded  = "SUCCEEDED"
	StatusFailed     = "FAILED"
)

type faultKind int

const (
	kindAPIError faultKind = iota + 1
	kindReset
	kindDelay
	kindAsync
)

// Fault is what a rule does to a matching call. Build one with Throttling,
// Conflict, APIError, HTTPStatus, ConnectionReset, Delay, InProgress,
// FailedAfter or Stuck.
type Fault struct {
	kind    faultKind
	status  int
	code    string
	message string
	delay   time.Duration
	polls   int    // async: IN_PROGRESS answers to Describe before the final one
	final   string // async: StatusSucceeded, StatusFailed or "" (never ends)
	reason  string // async: FailureReason when final is StatusFailed
}

// String describes the fault for test messages.
func (f Fault) String() string {
	switch f.kind {
	case kindAPIError:
		return fmt.Sprintf("HTTP %d %s", f.status, f.code)
	case kindReset:
		return "connection reset"
	case kindDelay:
		return "delay " + f.delay.String()
	case kindAsync:
		switch f.final {
		case StatusSucceeded:
			return fmt.Sprintf("IN_PROGRESS x%d then SUCCEEDED", f.polls)
		case StatusFailed:
			return fmt.Sprintf("IN_PROGRESS x%d then FAILED %q", f.polls, f.reason)
		}
		return "IN_PROGRESS forever"
	}
	return "no fault"
}

// APIError answers with an AWS error: the given HTTP status and error code
// (JSON body with __type for JSON protocols such as sso-admin, an XML
// ErrorResponse for query protocols such as IAM and STS). moto is not called.
func APIError(status int, code, message string) Fault {
	return Fault{kind: kindAPIError, status: status, code: code, message: message}
}

// Throttling answers HTTP 400 ThrottlingException.
func Throttling() Fault { return APIError(400, "ThrottlingException", "Rate exceeded") }

// Conflict answers HTTP 400 ConflictException, as AWS does when another
// operation on the same assignment is in flight.
func Conflict() Fault {
	return APIError(400, "ConflictException", "An operation on this resource is already in progress")
}

// HTTPStatus answers the given 5xx status with an InternalServerException
// body.
func HTTPStatus(status int) Fault {
	return APIError(status, "InternalServerException", "injected HTTP "+strconv.Itoa(status))
}

// ConnectionReset fails the call with a "connection reset by peer" transport
// error; moto is not called.
func ConnectionReset() Fault { return Fault{kind: kindReset} }

// Delay holds the call for d (or until its context ends, returning the
// context's error), then forwards it. A long Delay is a hang.
func Delay(d time.Duration) Fault { return Fault{kind: kindDelay, delay: d} }

// InProgress makes CreateAccountAssignment or DeleteAccountAssignment answer
// IN_PROGRESS without calling moto; the matching Describe...Status call
// answers IN_PROGRESS polls times, then applies the operation to moto and
// answers SUCCEEDED (or FAILED with moto's message if moto refuses it).
func InProgress(polls int) Fault {
	return Fault{kind: kindAsync, polls: polls, final: StatusSucceeded}
}

// FailedAfter is like InProgress but ends FAILED with the given
// FailureReason; moto is never changed.
func FailedAfter(polls int, reason string) Fault {
	return Fault{kind: kindAsync, polls: polls, final: StatusFailed, reason: reason}
}

// Stuck is like InProgress but the operation never ends: every Describe
// answers IN_PROGRESS and moto is never changed.
func Stuck() Fault { return Fault{kind: kindAsync} }

// Faults injects faults into calls to moto and counts calls. Rules match an
// operation name (the X-Amz-Target operation such as
// "CreateAccountAssignment", the full target such as
// "SWBExternalService.CreateAccountAssignment", the query protocol's Action
// such as "GetRole", or "*" for every call). Each call consumes at most one
// rule: the first added rule that matches and has count left. Use it with
// WithFaults or Transport. It is safe for concurrent use.
type Faults struct {
	mu             sync.Mutex
	rules          []*rule
	calls          map[string]int
	inFlight       map[string]int
	maxInFlight    map[string]int
	outstanding    int
	maxOutstanding int
	async          map[string]*asyncOp
	starts         []time.Time // when each call reached the injector
	order          []string    // the operation of each call
	reached        []*reachedWait
	kill           *killRule
	killed         bool
	refused        int
	setSemantics   bool
	tuples         sync.Mutex // serializes creates when setSemantics
	redundant      int
}

// reachedWait is a Reached channel waiting for the n-th call of op.
type reachedWait struct {
	op string
	n  int
	ch chan struct{}
}

// killRule kills the injector once the n-th call of op has been answered.
type killRule struct {
	op string
	n  int
}

type rule struct {
	op    string
	left  int // Always for no limit
	fault Fault
}

// NewFaults returns a Faults with no rules, which only counts.
func NewFaults() *Faults {
	return &Faults{
		calls:       map[string]int{},
		inFlight:    map[string]int{},
		maxInFlight: map[string]int{},
		async:       map[string]*asyncOp{},
	}
}

// Inject adds a rule: the next n calls of op (Always: every call) get fault.
// It panics on n == 0 or an asynchronous fault on an operation other than
// CreateAccountAssignment or DeleteAccountAssignment. It returns f.
func (f *Faults) Inject(op string, n int, fault Fault) *Faults {
	if n == 0 || n < Always {
		panic(fmt.Sprintf("moto: Inject(%q, %d): count must be positive or Always", op, n))
	}
	if fault.kind == kindAsync && !isAsyncOp(shortOp(op)) {
		panic(fmt.Sprintf("moto: Inject(%q): %s applies only to %s and %s", op, fault, OpCreateAccountAssignment, OpDeleteAccountAssignment))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{op: op, left: n, fault: fault})
	return f
}

// Calls is how many calls of op (short operation name) reached the
// injector, faulted or not, retries included.
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[shortOp(op)]
}

// Total is how many calls of any operation reached the injector.
func (f *Faults) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// CallCounts is a copy of the calls per operation.
func (f *Faults) CallCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.calls))
	for k, v := range f.calls {
		m[k] = v
	}
	return m
}

// MaxConcurrent is the largest number of calls of op that were in flight at
// the same time.
func (f *Faults) MaxConcurrent(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInFlight[shortOp(op)]
}

// MaxOutstanding is the largest number of asynchronous assignment
// operations outstanding at once, as AWS would count them: a Create or
// Delete call in flight, or answered IN_PROGRESS and not yet reported
// SUCCEEDED or FAILED by a Describe call.
func (f *Faults) MaxOutstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxOutstanding
}

// Unused lists the rules with a finite count that were not used up, for
// asserting that every injected fault happened.
func (f *Faults) Unused() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.rules {
		if r.left > 0 {
			out = append(out, fmt.Sprintf("%s: %s, %d left", r.op, r.fault, r.left))
		}
	}
	return out
}

// Transport returns an http.RoundTripper that applies f in front of next.
func (f *Faults) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		return f.roundTrip(req, next)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (fn roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return fn(req) }

func (f *Faults) roundTrip(req *http.Request, next http.RoundTripper) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	target, op := operation(req, body)
	r, index, ok := f.begin(op, target)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ErrKilled}
	}
	tracked := false
	defer func() { f.end(op, index, tracked) }()

	if r != nil {
		switch r.fault.kind {
		case kindAPIError:
			return apiErrorResponse(req, r.fault), nil
		case kindReset:
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
		case kindDelay:
			if err := sleepCtx(req.Context(), r.fault.delay); err != nil {
				return nil, err
			}
		case kindAsync:
			resp, err := f.startAsync(req, body, op, r.fault)
			tracked = err == nil
			return resp, err
		}
	}
	if op == OpDescribeCreationStatus || op == OpDescribeDeletionStatus {
		if resp, err := f.describe(req, body, op, next); resp != nil || err != nil {
			return resp, err
		}
	}
	return f.forward(withBody(req, body), op, next)
}

// ErrKilled is the transport error of every call made after a KillAfter
// rule fired: the process that would make it is dead.
var ErrKilled = errors.New("moto faults: the caller was killed")

// KillAfter makes the injector act as if the calling process were killed
// right after the n-th call of op ("*": of any operation) was answered:
// every later call fails with ErrKilled without reaching moto. Calls
// already in flight complete. Killed reports whether it has fired.
func (f *Faults) KillAfter(op string, n int) *Faults {
	if n < 1 {
		panic(fmt.Sprintf("moto: KillAfter(%q, %d): n must be positive", op, n))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kill = &killRule{op: op, n: n}
	return f
}

// Clear drops every rule not yet used up, so that later calls get no
// fault. It returns f.
func (f *Faults) Clear() *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	return f
}

// Revive drops the KillAfter rule and lets calls through again, for the
// process that runs after the killed one. It returns f.
func (f *Faults) Revive() *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kill, f.killed = nil, false
	return f
}

// Killed reports whether a KillAfter rule has fired.
func (f *Faults) Killed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.killed
}

// Sequence is the operation of every call that reached the injector, in
// the order they did.
func (f *Faults) Sequence() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Refused is how many calls failed with ErrKilled.
func (f *Faults) Refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

// Reached returns a channel that is closed when the n-th call of op ("*":
// of any operation) reaches the injector, before any fault applies: with a
// Delay on that call, a test can act while the call is held.
func (f *Faults) Reached(op string, n int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	if f.countLocked(op) >= n {
		close(ch)
		return ch
	}
	f.reached = append(f.reached, &reachedWait{op: op, n: n, ch: ch})
	return ch
}

// AssignmentSet makes moto hold account assignments as AWS does, as a set:
// a CreateAccountAssignment for a principal that already holds the
// permission set on the account answers SUCCEEDED without reaching moto
// (which would store a duplicate), and creates and deletes reach moto one
// at a time. Redundant counts those creates. Use it where independent
// processes may create the same assignment at once.
func (f *Faults) AssignmentSet() *Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setSemantics = true
	return f
}

// Redundant is how many creates AssignmentSet answered without moto
// because the assignment already existed.
func (f *Faults) Redundant() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.redundant
}

// MaxPerSecond is the largest number of calls that reached the injector
// within any one-second window.
func (f *Faults) MaxPerSecond() int {
	f.mu.Lock()
	starts := append([]time.Time(nil), f.starts...)
	f.mu.Unlock()
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	best, lo := 0, 0
	for hi := range starts {
		for starts[hi].Sub(starts[lo]) >= time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func (f *Faults) countLocked(op string) int {
	if op == "*" {
		n := 0
		for _, c := range f.calls {
			n += c
		}
		return n
	}
	return f.calls[shortOp(op)]
}

// begin counts the call and consumes the rule that applies to it, if any.
// index is the call's number among its operation's calls and among all
// calls; ok is false when the injector was killed.
func (f *Faults) begin(op, target string) (r *rule, index [2]int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.killed {
		f.refused++
		return nil, index, false
	}
	f.calls[op]++
	f.starts = append(f.starts, time.Now())
	f.order = append(f.order, op)
	index = [2]int{f.calls[op], len(f.starts)}
	f.inFlight[op]++
	f.maxInFlight[op] = max(f.maxInFlight[op], f.inFlight[op])
	if isAsyncOp(op) {
		f.outstanding++
		f.maxOutstanding = max(f.maxOutstanding, f.outstanding)
	}
	kept := f.reached[:0]
	for _, w := range f.reached {
		if f.countLocked(w.op) >= w.n {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	f.reached = kept
	for _, r := range f.rules {
		if r.left == 0 || (r.op != "*" && r.op != op && r.op != target) {
			continue
		}
		if r.left > 0 {
			r.left--
		}
		if r.fault.kind != kindDelay || r.fault.delay > 0 {
			injected.Add(1)
		}
		return r, index, true
	}
	return nil, index, true
}

// injected counts the faults applied by every Faults in the process.
var injected atomic.Int64

// Injected is how many faults every Faults in this test binary applied so
// far (a zero Delay is not a fault), for a report of what a suite tried.
func Injected() int64 { return injected.Load() }

// end closes the call; an asynchronous operation answered IN_PROGRESS
// (tracked) stays outstanding until a Describe reports its end. A KillAfter
// rule fires here, once its call has been answered.
func (f *Faults) end(op string, index [2]int, tracked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight[op]--
	if isAsyncOp(op) && !tracked {
		f.outstanding--
	}
	if k := f.kill; k != nil && (k.op == "*" && index[1] == k.n || shortOp(k.op) == op && index[0] == k.n) {
		f.killed = true
	}
}

// forward sends a call to moto. With AssignmentSet, a create of an
// assignment that exists is answered here, and creates and deletes are
// serialized so that the check holds.
func (f *Faults) forward(req *http.Request, op string, next http.RoundTripper) (*http.Response, error) {
	f.mu.Lock()
	set := f.setSemantics
	f.mu.Unlock()
	if !set || !isAsyncOp(op) {
		return next.RoundTrip(req)
	}
	f.tuples.Lock()
	defer f.tuples.Unlock()
	if op == OpCreateAccountAssignment {
		body, err := readBody(req)
		if err != nil {
			return nil, err
		}
		req = withBody(req, body)
		var in assignmentStatus
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("moto faults: decode %s request: %w", op, err)
		}
		held, err := f.holds(req, body, in, next)
		if err != nil {
			return nil, err
		}
		if held {
			f.mu.Lock()
			f.redundant++
			f.mu.Unlock()
			in.RequestID, in.Status = newRequestID(), StatusSucceeded
			return statusResponse(req, op, in), nil
		}
	}
	return next.RoundTrip(req)
}

// holds asks moto whether the principal of a create request already holds
// its permission set on its account.
func (f *Faults) holds(create *http.Request, body []byte, in assignmentStatus, next http.RoundTripper) (bool, error) {
	var target struct{ InstanceArn string }
	_ = json.Unmarshal(body, &target)
	var token string
	for range 100 {
		q := map[string]string{"InstanceArn": target.InstanceArn, "AccountId": in.TargetID, "PermissionSetArn": in.PermissionSetArn}
		if token != "" {
			q["NextToken"] = token
		}
		b, _ := json.Marshal(q)
		list := withBody(create, b)
		list.Header = create.Header.Clone()
		list.Header.Set("X-Amz-Target", "SWBExternalService.ListAccountAssignments")
		resp, err := next.RoundTrip(list)
		if err != nil {
			return false, err
		}
		var out struct {
			AccountAssignments []struct {
				PrincipalID   string `json:"PrincipalId"`
				PrincipalType string
			}
			NextToken string
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("moto faults: list assignments: HTTP %d: %v", resp.StatusCode, err)
		}
		for _, a := range out.AccountAssignments {
			if a.PrincipalID == in.PrincipalID && a.PrincipalType == in.PrincipalType {
				return true, nil
			}
		}
		if out.NextToken == "" {
			return false, nil
		}
		token = out.NextToken
	}
	return false, errors.New("moto faults: list assignments: more than 100 pages")
}

// asyncOp is an assignment operation answered IN_PROGRESS by the injector.
type asyncOp struct {
	mu       sync.Mutex
	op       string
	fault    Fault
	left     int // IN_PROGRESS answers still to give
	status   assignmentStatus
	header   http.Header
	url      string
	body     []byte
	finished bool // the end was reported and no longer counts as outstanding
}

// assignmentStatus is AccountAssignmentOperationStatus on the wire.
type assignmentStatus struct {
	CreatedDate      json.Number `json:",omitempty"`
	FailureReason    string      `json:",omitempty"`
	PermissionSetArn string      `json:",omitempty"`
	PrincipalID      string      `json:"PrincipalId,omitempty"`
	PrincipalType    string      `json:",omitempty"`
	RequestID        string      `json:"RequestId,omitempty"`
	Status           string      `json:",omitempty"`
	TargetID         string      `json:"TargetId,omitempty"`
	TargetType       string      `json:",omitempty"`
}

func (f *Faults) startAsync(req *http.Request, body []byte, op string, fault Fault) (*http.Response, error) {
	var in assignmentStatus
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("moto faults: decode %s request: %w", op, err)
	}
	a := &asyncOp{
		op:    op,
		fault: fault,
		left:  fault.polls,
		status: assignmentStatus{
			CreatedDate:      json.Number(strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64)),
			PermissionSetArn: in.PermissionSetArn,
			PrincipalID:      in.PrincipalID,
			PrincipalType:    in.PrincipalType,
			RequestID:        newRequestID(),
			Status:           StatusInProgress,
			TargetID:         in.TargetID,
			TargetType:       in.TargetType,
		},
		header: req.Header.Clone(),
		url:    req.URL.String(),
		body:   body,
	}
	f.mu.Lock()
	f.async[a.status.RequestID] = a
	f.mu.Unlock()
	return statusResponse(req, op, a.status), nil
}

// describe answers a Describe...Status call for an operation the injector
// answered IN_PROGRESS; it returns a nil response and error for any other
// request id, which moto answers.
func (f *Faults) describe(req *http.Request, body []byte, op string, next http.RoundTripper) (*http.Response, error) {
	var in struct {
		CreationRequestID string `json:"AccountAssignmentCreationRequestId"`
		DeletionRequestID string `json:"AccountAssignmentDeletionRequestId"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, nil
	}
	id, startOp := in.CreationRequestID, OpCreateAccountAssignment
	if op == OpDescribeDeletionStatus {
		id, startOp = in.DeletionRequestID, OpDeleteAccountAssignment
	}
	f.mu.Lock()
	a := f.async[id]
	f.mu.Unlock()
	if a == nil || a.op != startOp {
		return nil, nil
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.status.Status != StatusInProgress:
	case a.left > 0:
		a.left--
	case a.fault.final == "":
	case a.fault.final == StatusFailed:
		a.status.Status, a.status.FailureReason = StatusFailed, a.fault.reason
	default:
		reason, err := a.apply(f, req, next)
		if err != nil {
			// Transport trouble: the operation stays IN_PROGRESS.
			return nil, err
		}
		a.status.Status = StatusSucceeded
		if reason != "" {
			a.status.Status, a.status.FailureReason = StatusFailed, reason
		}
	}
	if a.status.Status != StatusInProgress && !a.finished {
		a.finished = true
		f.mu.Lock()
		f.outstanding--
		f.mu.Unlock()
	}
	return statusResponse(req, op, a.status), nil
}

// apply sends the held operation to moto now that it "succeeds"; a refusal
// by moto becomes the FailureReason.
func (a *asyncOp) apply(f *Faults, req *http.Request, next http.RoundTripper) (reason string, err error) {
	fwd, err := http.NewRequestWithContext(req.Context(), http.MethodPost, a.url, bytes.NewReader(a.body))
	if err != nil {
		return "", err
	}
	fwd.Header = a.header.Clone()
	resp, err := f.forward(withBody(fwd, a.body), a.op, next)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("moto refused %s: HTTP %d %s", a.op, resp.StatusCode, strings.TrimSpace(string(b))), nil
	}
	return "", nil
}

func statusResponse(req *http.Request, op string, st assignmentStatus) *http.Response {
	key := "AccountAssignmentCreationStatus"
	if op == OpDeleteAccountAssignment || op == OpDescribeDeletionStatus {
		key = "AccountAssignmentDeletionStatus"
	}
	b, _ := json.Marshal(map[string]assignmentStatus{key: st})
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	return response(req, http.StatusOK, h, b)
}

func apiErrorResponse(req *http.Request, f Fault) *http.Response {
	h := http.Header{}
	requestID := newRequestID()
	h.Set("X-Amzn-Requestid", requestID)
	if req.Header.Get("X-Amz-Target") != "" {
		h.Set("Content-Type", "application/x-amz-json-1.1")
		h.Set("X-Amzn-Errortype", f.code)
		b, _ := json.Marshal(map[string]string{"__type": f.code, "message": f.message})
		return response(req, f.status, h, b)
	}
	h.Set("Content-Type", "text/xml")
	kind := "Sender"
	if f.status >= 500 {
		kind = "Receiver"
	}
	var msg bytes.Buffer
	_ = xml.EscapeText(&msg, []byte(f.message))
	b := fmt.Sprintf(`<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		kind, f.code, msg.String(), requestID)
	return response(req, f.status, h, []byte(b))
}

func response(req *http.Request, status int, h http.Header, body []byte) *http.Response {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("moto faults: read request body: %w", err)
	}
	return b, nil
}

func withBody(req *http.Request, body []byte) *http.Request {
	out := req.Clone(req.Context())
	if body == nil {
		out.Body = nil
		return out
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out
}

// operation names the call: the X-Amz-Target (JSON protocols) or the
// form's Action (query protocols).
func operation(req *http.Request, body []byte) (target, op string) {
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		return t, shortOp(t)
	}
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if q, err := url.ParseQuery(string(body)); err == nil && q.Get("Action") != "" {
			return q.Get("Action"), q.Get("Action")
		}
	}
	return req.Method + " " + req.URL.Path, req.Method + " " + req.URL.Path
}

func shortOp(target string) string {
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		return target[i+1:]
	}
	return target
}

func isAsyncOp(op string) bool {
	return op == OpCreateAccountAssignment || op == OpDeleteAccountAssignment
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// String lists the calls per operation, for test failure messages.
func (f *Faults) String() string {
	counts := f.CallCounts()
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s=%d", op, counts[op])
	}
	return "calls: " + strings.Join(parts, ", ")
}
