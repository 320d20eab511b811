package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/elevate-dev/elevate/internal/finding"
	"github.com/elevate-dev/elevate/internal/gitrepo"
)

// State is where a request is in its life.
type State string

// The states. pending and active are open; the rest are closed.
const (
	Pending State = "pending" // merged and approved, waiting for its start (or a retry)
	Active  State = "active"  // granted in AWS
	Expired State = "expired" // its end passed; access revoked
	Ended   State = "ended"   // ended early; access revoked
	Denied  State = "denied"  // approvals or policy did not hold; nothing granted
	Failed  State = "failed"  // AWS refused; nothing granted
)

// Closed reports whether s is a final state.
func (s State) Closed() bool { return s != Pending && s != Active }

// Status is what elevate records about a request. Times are RFC 3339 UTC.
type Status struct {
	Version       int      `yaml:"version"`
	Request       string   `yaml:"request"`
	State         State    `yaml:"state"`
	Requester     string   `yaml:"requester,omitempty"`
	UserName      string   `yaml:"userName,omitempty"`
	Account       string   `yaml:"account,omitempty"`
	PermissionSet string   `yaml:"permissionSet,omitempty"`
	Policy        string   `yaml:"policy,omitempty"`
	PullRequest   int      `yaml:"pullRequest,omitempty"`
	MergeCommit   string   `yaml:"mergeCommit,omitempty"`
	ApprovedBy    []string `yaml:"approvedBy,omitempty"`
	Start         string   `yaml:"start,omitempty"`
	End           string   `yaml:"end,omitempty"`
	GrantedAt     string   `yaml:"grantedAt,omitempty"`
	ClosedAt      string   `yaml:"closedAt,omitempty"`
	Reason        string   `yaml:"reason,omitempty"`
}

// StartTime and EndTime parse Start and End; the zero time if unset or bad.
func (s *Status) StartTime() time.Time { t, _ := time.Parse(time.RFC3339, s.Start); return t }

// EndTime is the absolute end of access.
func (s *Status) EndTime() time.Time { t, _ := time.Parse(time.RFC3339, s.End); return t }

// Marshal writes the status file.
func (s *Status) Marshal() []byte {
	var b bytes.Buffer
	// The id is a file name anyone chose: a line break in it would end the
	// comment and corrupt the file.
	b.WriteString("# Written by elevate; do not edit. The request itself is " + finding.Escape(s.requestPath()) + ".\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(s)
	return b.Bytes()
}

func (s *Status) requestPath() string {
	if s.State.Closed() {
		return ArchivePath(s.Request)
	}
	return "requests/" + s.Request + ".yaml"
}

// ParseStatus reads a status file.
func ParseStatus(data []byte) (*Status, error) {
	var s Status
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if s.Request == "" || s.State == "" {
		return nil, errors.New("status has no request or state")
	}
	return &s, nil
}

// Signature is the identity elevate commits as.
type Signature struct{ Name, Email string }

// DefaultSignature is used when no identity is configured.
var DefaultSignature = Signature{Name: "elevate", Email: "elevate@users.noreply.github.com"}

// Ledger records transitions as commits in a working tree.
type Ledger struct {
	Repo *gitrepo.Repo
	As   Signature
}

// Open lists the open requests: ids in requests/ and their status, if any.
// An id may have a status without a request file only if someone deleted the
// file by hand; it is reported as open so the next run can close it.
func (l *Ledger) Open(ctx context.Context) (ids []string, statuses map[string]*Status, problems []string, err error) {
	snap := gitrepo.WorkTree(l.Repo.Dir)
	statuses = map[string]*Status{}
	seen := map[string]bool{}
	reqs, err := snap.List(ctx, "requests")
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range reqs {
		id := strings.TrimSuffix(filepath.Base(e.Path), ".yaml")
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sts, err := snap.List(ctx, StatusDir)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range sts {
		id := strings.TrimSuffix(filepath.Base(e.Path), ".yaml")
		data, _, err := snap.Read(ctx, e.Path, 1<<20)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.Path, err))
			continue
		}
		st, err := ParseStatus(data)
		if err != nil || st.Request != id {
			problems = append(problems, fmt.Sprintf("%s: not a valid status file: %v", e.Path, err))
			continue
		}
		statuses[id] = st
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, statuses, problems, nil
}

// Entry names a request file as it sits in requests/ (it may not parse:
// a hostile name is still recorded and moved out of the active set).
type Entry struct {
	// ID is the file name without .yaml.
	ID string
	// Path is the request file's path, "" if it is gone.
	Path string
}

// Record commits one transition: an open state writes status/<id>.yaml; a
// closed state moves the request to the archive, writes its final status and
// removes status/<id>.yaml. The request file's bytes never change. It is a
// Batch of one; a run records all its transitions with one Batch.
func (l *Ledger) Record(ctx context.Context, e Entry, st *Status, action string) (string, error) {
	b := l.Begin()
	b.Record(e, st, action)
	shas, err := b.Commit(ctx)
	if err != nil {
		return "", fmt.Errorf("record %s of %s: %w", action, e.ID, err)
	}
	return shas[0], nil
}

func (l *Ledger) exists(p string) bool {
	_, err := os.Lstat(filepath.Join(l.Repo.Dir, filepath.FromSlash(p)))
	return !errors.Is(err, fs.ErrNotExist)
}

func safeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func sanitize(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
		if b.Len() >= 48 {
			break
		}
	}
	if b.Len() == 0 {
		return "unnamed"
	}
	return b.String()
}

// Trailer keys elevate writes on every state commit.
const (
	TrailerRequest     = "Request"
	TrailerAction      = "Action"
	TrailerState       = "State"
	TrailerRequester   = "Requester"
	TrailerAccount     = "Account"
	TrailerSet         = "Permission-Set"
	TrailerPolicy      = "Policy"
	TrailerPR          = "Pull-Request"
	TrailerApprovedBy  = "Approved-By"
	TrailerStartsAt    = "Starts-At"
	TrailerExpiresAt   = "Expires-At"
	TrailerReason      = "Reason"
	TrailerStateCommit = "Elevate-State"
)

// Message is the commit message of a transition: a readable subject and
// machine-readable trailers. Values are escaped to one line.
func Message(st *Status, action string) string {
	var b strings.Builder
	subject := fmt.Sprintf("elevate: %s %s", action, st.Request)
	switch st.State {
	case Active:
		subject += fmt.Sprintf(" (%s on %s for %s until %s)", st.PermissionSet, st.Account, st.Requester, st.End)
	case Pending:
		subject += fmt.Sprintf(" (approved; starts %s)", st.Start)
	case Expired, Ended:
		subject += fmt.Sprintf(" (%s on %s for %s ended %s)", st.PermissionSet, st.Account, st.Requester, st.End)
	case Denied, Failed:
		subject += " (" + string(st.State) + ")"
	}
	b.WriteString(oneLine(subject, 200))
	b.WriteString("\n\n")
	if st.Reason != "" {
		b.WriteString(oneLine(st.Reason, 2000))
		b.WriteString("\n\n")
	}
	t := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, oneLine(v, 1000))
		}
	}
	t(TrailerRequest, st.Request)
	t(TrailerAction, action)
	t(TrailerState, string(st.State))
	t(TrailerRequester, st.Requester)
	t(TrailerAccount, st.Account)
	t(TrailerSet, st.PermissionSet)
	t(TrailerPolicy, st.Policy)
	if st.PullRequest > 0 {
		t(TrailerPR, fmt.Sprint(st.PullRequest))
	}
	for _, a := range st.ApprovedBy {
		t(TrailerApprovedBy, a)
	}
	t(TrailerStartsAt, st.Start)
	t(TrailerExpiresAt, st.End)
	if st.Reason != "" {
		t(TrailerReason, st.Reason)
	}
	t(TrailerStateCommit, "v1")
	return b.String()
}

// oneLine escapes a value to one line that is no workflow command either
// (a log may print it: git log in a workflow step, an audit export).
func oneLine(s string, max int) string {
	s = finding.EscapeLine(s)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
