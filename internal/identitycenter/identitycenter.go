// Package identitycenter is elevate's grant backend for AWS IAM Identity
// Center: it grants and revokes account assignments (an Identity Store
// user, a permission set, an AWS account), reports which exist, and tells
// how long a permission set's sessions last.
//
// A Backend lives for one run. It discovers the Identity Center instance,
// resolves user and permission set names once, lists each (account,
// permission set) once and keeps that list correct after its own changes,
// so a run of many grants costs about one create and its status checks per
// grant. It waits for AWS's asynchronous assignment operations to end,
// bounded, and stays within Identity Center's limits: at most MaxInFlight
// asynchronous operations outstanding and RatePerSecond calls per second.
// All methods are safe for concurrent use.
package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
)

// SSOAdmin is the part of the sso-admin API the backend uses;
// *ssoadmin.Client satisfies it.
type SSOAdmin interface {
	ListInstances(ctx context.Context, params *ssoadmin.ListInstancesInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.ListInstancesOutput, error)
	ListPermissionSets(ctx context.Context, params *ssoadmin.ListPermissionSetsInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.ListPermissionSetsOutput, error)
	DescribePermissionSet(ctx context.Context, params *ssoadmin.DescribePermissionSetInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.DescribePermissionSetOutput, error)
	ListAccountAssignments(ctx context.Context, params *ssoadmin.ListAccountAssignmentsInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.ListAccountAssignmentsOutput, error)
	CreateAccountAssignment(ctx context.Context, params *ssoadmin.CreateAccountAssignmentInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.CreateAccountAssignmentOutput, error)
	DeleteAccountAssignment(ctx context.Context, params *ssoadmin.DeleteAccountAssignmentInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.DeleteAccountAssignmentOutput, error)
	DescribeAccountAssignmentCreationStatus(ctx context.Context, params *ssoadmin.DescribeAccountAssignmentCreationStatusInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.DescribeAccountAssignmentCreationStatusOutput, error)
	DescribeAccountAssignmentDeletionStatus(ctx context.Context, params *ssoadmin.DescribeAccountAssignmentDeletionStatusInput, optFns ...func(*ssoadmin.Options)) (*ssoadmin.DescribeAccountAssignmentDeletionStatusOutput, error)
}

// IdentityStore is the part of the Identity Store API the backend uses;
// *identitystore.Client satisfies it.
type IdentityStore interface {
	GetUserId(ctx context.Context, params *identitystore.GetUserIdInput, optFns ...func(*identitystore.Options)) (*identitystore.GetUserIdOutput, error)
	DescribeUser(ctx context.Context, params *identitystore.DescribeUserInput, optFns ...func(*identitystore.Options)) (*identitystore.DescribeUserOutput, error)
}

// Assignment is one user holding one permission set on one AWS account.
type Assignment struct {
	// UserName is the user's userName in the Identity Store.
	UserName string
	// PermissionSet is the permission set's name.
	PermissionSet string
	// AccountID is the 12-digit AWS account id.
	AccountID string
	// UserID is the Identity Store user id. List sets it; for a user no
	// longer in the Identity Store it is the only user field set. Grant,
	// Revoke and Exists use it only when UserName is empty, so that an
	// assignment of a deleted user can still be revoked.
	UserID string
}

// String names the assignment in messages.
func (a Assignment) String() string {
	if a.UserName == "" && a.UserID != "" {
		return fmt.Sprintf("user id %s permission set %q account %s", a.UserID, a.PermissionSet, a.AccountID)
	}
	return fmt.Sprintf("user %q permission set %q account %s", a.UserName, a.PermissionSet, a.AccountID)
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// validate reports every problem of a, each wrapping ErrInvalidAssignment.
func (a Assignment) validate() error {
	var errs []error
	if a.UserName == "" && a.UserID == "" {
		errs = append(errs, fmt.Errorf("%w: empty user name", ErrInvalidAssignment))
	}
	if a.PermissionSet == "" {
		errs = append(errs, fmt.Errorf("%w: empty permission set name", ErrInvalidAssignment))
	}
	if err := validateAccountID(a.AccountID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateAccountID(id string) error {
	if !accountIDPattern.MatchString(id) {
		return fmt.Errorf("%w: account id %q is not 12 digits", ErrInvalidAssignment, id)
	}
	return nil
}

// Options tune a Backend. The zero value gives the defaults.
type Options struct {
	// PollInterval is the wait before each status check of an asynchronous
	// assignment operation. Default 1s.
	PollInterval time.Duration
	// MaxPolls bounds the status checks of one operation; past it Grant or
	// Revoke returns a *TimeoutError. Default 60.
	MaxPolls int
	// MaxInFlight bounds the asynchronous assignment operations outstanding
	// at once. Default 15, AWS's fixed limit.
	MaxInFlight int
	// RatePerSecond bounds the calls per second to sso-admin and the
	// Identity Store together. With NewFromConfig every HTTP request
	// counts, retries included; with New each SDK operation counts once.
	// Default 20, AWS's limit.
	RatePerSecond float64
	// MaxPages bounds every paginated listing. Default 100.
	MaxPages int
	// CallTimeout bounds each SDK operation, its retries included.
	// Default 2m.
	CallTimeout time.Duration
	// MaxAttempts is the retryer's attempts per operation, for the clients
	// NewFromConfig builds. Default 6.
	MaxAttempts int
	// RetryBackoff, if set, replaces the SDK's jittered exponential backoff
	// in the clients NewFromConfig builds.
	RetryBackoff retry.BackoffDelayer
	// Sleep waits d or until ctx ends (then returns ctx's error). Default: a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the rate limiter's clock. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxPolls <= 0 {
		o.MaxPolls = 60
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 15
	}
	if o.RatePerSecond <= 0 {
		o.RatePerSecond = 20
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 100
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 2 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Backend grants and revokes Identity Center account assignments. Build it
// with New or NewFromConfig; it caches what it learns for its whole life,
// so make one per run.
type Backend struct {
	sso  SSOAdmin
	ids  IdentityStore
	opts Options

	limit      *limiter
	perAttempt bool // limit applied by the clients' HTTP client
	inFlight   chan struct{}
	tuples     keyedLock[tuple]

	instance  memo[struct{}, instance]
	userIDs   memo[string, string] // user name -> id
	userNames memo[string, string] // user id -> name ("" if gone)
	assigned  memo[setKey, *holders]

	permissionSets ctxMutex // guards catalog
	catalog        catalog
}

// New returns a Backend using the given clients as they are (their retry
// behaviour included). Each SDK operation waits for the rate limit once;
// retries the clients make of their own are not limited.
func New(sso SSOAdmin, ids IdentityStore, opts Options) *Backend {
	opts = opts.withDefaults()
	return newBackend(sso, ids, opts, newLimiter(opts.RatePerSecond, opts.Now, opts.Sleep), false)
}

func newBackend(sso SSOAdmin, ids IdentityStore, opts Options, l *limiter, perAttempt bool) *Backend {
	return &Backend{
		sso:            sso,
		ids:            ids,
		opts:           opts,
		limit:          l,
		perAttempt:     perAttempt,
		inFlight:       make(chan struct{}, opts.MaxInFlight),
		permissionSets: newCtxMutex(),
		catalog:        catalog{byName: map[string]permissionSet{}},
	}
}

// NewFromConfig returns a Backend with sso-admin and Identity Store clients
// built from cfg, whose retryer is the SDK's standard one (jittered
// exponential backoff, MaxAttempts attempts) that also retries
// ConflictException. The rate limit applies to every HTTP request the
// clients send, retries included, so that the Backend stays within
// RatePerSecond however many calls are retried.
func NewFromConfig(cfg aws.Config, opts Options) *Backend {
	opts = opts.withDefaults()
	l := newLimiter(opts.RatePerSecond, opts.Now, opts.Sleep)
	cfg = cfg.Copy()
	next := cfg.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = limitedClient{next: next, limit: l}
	sso := ssoadmin.NewFromConfig(cfg, func(o *ssoadmin.Options) { o.Retryer = newRetryer(opts) })
	ids := identitystore.NewFromConfig(cfg, func(o *identitystore.Options) { o.Retryer = newRetryer(opts) })
	return newBackend(sso, ids, opts, l, true)
}

// limitedClient waits for the rate limit before each HTTP request.
type limitedClient struct {
	next  aws.HTTPClient
	limit *limiter
}

func (c limitedClient) Do(req *http.Request) (*http.Response, error) {
	if err := c.limit.wait(req.Context()); err != nil {
		return nil, err
	}
	return c.next.Do(req)
}

func newRetryer(opts Options) aws.Retryer {
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		// A conflict means another operation on the same assignment is
		// still running, which takes seconds: back off from 1s as for a
		// throttle, not from 50ms.
		o.Throttles = append(o.Throttles, retry.IsErrorThrottleFunc(func(err error) aws.Ternary {
			if errorCode(err) == codeConflict {
				return aws.TrueTernary
			}
			return aws.UnknownTernary
		}))
		if opts.RetryBackoff != nil {
			o.Backoff = opts.RetryBackoff
		}
	})
	return retry.AddWithErrorCodes(std, codeConflict)
}

// call runs one SDK operation within CallTimeout, and within the rate limit
// unless the clients apply it to each of their requests.
func call[In, Out, Opt any](ctx context.Context, b *Backend, op func(context.Context, In, ...func(Opt)) (Out, error), in In) (Out, error) {
	if !b.perAttempt {
		if err := b.limit.wait(ctx); err != nil {
			var zero Out
			return zero, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.CallTimeout)
	defer cancel()
	return op(ctx, in)
}

// Refresh forgets which assignments AWS holds, so that the next look lists
// them again: for a long-lived Backend when someone else (another run) may
// have changed them since. Users and permission sets stay cached.
func (b *Backend) Refresh() {
	b.assigned.forgetAll()
}

// acquire takes one of the MaxInFlight slots for an asynchronous operation.
func (b *Backend) acquire(ctx context.Context) (release func(), err error) {
	select {
	case b.inFlight <- struct{}{}:
		return func() { <-b.inFlight }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holders is who holds one permission set on one account (USER principals).
type holders struct {
	mu    sync.Mutex
	users map[string]bool
}

func (h *holders) has(userID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[userID]
}

func (h *holders) set(userID string, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if held {
		h.users[userID] = true
	} else {
		delete(h.users, userID)
	}
}

func (h *holders) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.users))
	for id := range h.users {
		out = append(out, id)
	}
	return out
}
