package identitycenter_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

func TestMain(m *testing.M) { moto.Main(m) }

const (
	account  = "111122223333"
	account2 = "444455556666"
)

// fixture is one test's moto account: seeded users and permission sets
// "Admin" and "ReadOnly", reached through a fault injector.
type fixture struct {
	t      testing.TB
	faults *moto.Faults
	cfg    aws.Config
	seed   moto.Seeded
}

func newFixture(t testing.TB, users ...string) *fixture {
	t.Helper()
	if len(users) == 0 {
		users = []string{"alice", "bob"}
	}
	f := moto.NewFaults()
	cfg := moto.Shared().Config(t, moto.WithFaults(f))
	seed, err := moto.Seed(context.Background(), cfg, users, []string{"Admin", "ReadOnly"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, faults: f, cfg: cfg, seed: seed}
}

// fast are Options for tests: tiny waits, no effective rate limit.
func fast() identitycenter.Options {
	return identitycenter.Options{
		PollInterval:  time.Millisecond,
		MaxPolls:      10,
		RatePerSecond: 100_000,
		RetryBackoff: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
			return time.Millisecond, nil
		}),
	}
}

func (fx *fixture) backend(opts identitycenter.Options) *identitycenter.Backend {
	return identitycenter.NewFromConfig(fx.cfg, opts)
}

// holders lists who holds a permission set on an account, straight from moto.
func (fx *fixture) holders(set, accountID string) []string {
	fx.t.Helper()
	got, err := fx.seed.Assignments(context.Background(), fx.cfg, accountID, set)
	if err != nil {
		fx.t.Fatal(err)
	}
	return got
}

// createDirect makes an assignment behind the backend's back.
func (fx *fixture) createDirect(principalType types.PrincipalType, principalID, set, accountID string) {
	fx.t.Helper()
	sso := ssoadmin.NewFromConfig(moto.WithoutFaults(fx.cfg))
	_, err := sso.CreateAccountAssignment(context.Background(), &ssoadmin.CreateAccountAssignmentInput{
		InstanceArn:      aws.String(fx.seed.InstanceARN),
		PermissionSetArn: aws.String(fx.seed.PermissionSetARNs[set]),
		PrincipalId:      aws.String(principalID),
		PrincipalType:    principalType,
		TargetId:         aws.String(accountID),
		TargetType:       types.TargetTypeAwsAccount,
	})
	if err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) calls(ops ...string) map[string]int {
	m := map[string]int{}
	for _, op := range ops {
		m[op] = fx.faults.Calls(op)
	}
	return m
}

const (
	create = moto.OpCreateAccountAssignment
	del    = moto.OpDeleteAccountAssignment
	list   = "ListAccountAssignments"
)

func alice(set string) identitycenter.Assignment {
	return identitycenter.Assignment{UserName: "alice", PermissionSet: set, AccountID: account}
}

func TestGrantRevoke(t *testing.T) {
	t.Parallel()
	type step struct {
		revoke bool
		fresh  bool // a new Backend (empty caches) from this step on
	}
	grant, revoke := step{}, step{revoke: true}
	tests := []struct {
		name        string
		existing    bool // alice holds Admin before the test
		steps       []step
		wantCalls   map[string]int
		wantHolders []string
	}{
		{
			name:        "grant creates exactly one assignment",
			steps:       []step{grant},
			wantCalls:   map[string]int{create: 1, del: 0, list: 1},
			wantHolders: []string{"alice"},
		},
		{
			name:        "second grant makes no call",
			steps:       []step{grant, grant},
			wantCalls:   map[string]int{create: 1, del: 0, list: 1},
			wantHolders: []string{"alice"},
		},
		{
			name:        "grant of an existing assignment creates nothing",
			existing:    true,
			steps:       []step{grant},
			wantCalls:   map[string]int{create: 0, del: 0, list: 1},
			wantHolders: []string{"alice"},
		},
		{
			name:        "revoke deletes",
			steps:       []step{grant, revoke},
			wantCalls:   map[string]int{create: 1, del: 1, list: 1},
			wantHolders: []string{},
		},
		{
			name:        "revoke of an absent assignment is a no-op",
			steps:       []step{revoke, revoke},
			wantCalls:   map[string]int{create: 0, del: 0, list: 1},
			wantHolders: []string{},
		},
		{
			name:        "revoke by a new backend finds and deletes",
			existing:    true,
			steps:       []step{{revoke: true, fresh: true}},
			wantCalls:   map[string]int{create: 0, del: 1, list: 1},
			wantHolders: []string{},
		},
		{
			name:        "cache follows own changes",
			steps:       []step{grant, revoke, grant, revoke, grant},
			wantCalls:   map[string]int{create: 3, del: 2, list: 1},
			wantHolders: []string{"alice"},
		},
		{
			name:        "a new backend lists again",
			steps:       []step{grant, {fresh: true}},
			wantCalls:   map[string]int{create: 1, del: 0, list: 2},
			wantHolders: []string{"alice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fx := newFixture(t)
			if tt.existing {
				fx.createDirect(types.PrincipalTypeUser, fx.seed.UserIDs["alice"], "Admin", account)
			}
			b := fx.backend(fast())
			for i, s := range tt.steps {
				if s.fresh {
					b = fx.backend(fast())
				}
				op := b.Grant
				if s.revoke {
					op = b.Revoke
				}
				if err := op(ctx, alice("Admin")); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				got, err := b.Exists(ctx, alice("Admin"))
				if err != nil || got == s.revoke {
					t.Fatalf("step %d: Exists = %v, %v; want %v", i, got, err, !s.revoke)
				}
			}
			if diff := cmp.Diff(tt.wantCalls, fx.calls(create, del, list)); diff != "" {
				t.Errorf("calls (-want +got):\n%s\n%s", diff, fx.faults)
			}
			if diff := cmp.Diff(tt.wantHolders, fx.holders("Admin", account)); diff != "" {
				t.Errorf("holders of Admin (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		a      identitycenter.Assignment
		target any // pointer to the wanted error type, or nil for ErrInvalidAssignment
	}{
		{"unknown user", identitycenter.Assignment{UserName: "mallory", PermissionSet: "Admin", AccountID: account}, new(*identitycenter.UserNotFoundError)},
		{"unknown permission set", identitycenter.Assignment{UserName: "alice", PermissionSet: "Root", AccountID: account}, new(*identitycenter.PermissionSetNotFoundError)},
		{"account id not 12 digits", identitycenter.Assignment{UserName: "alice", PermissionSet: "Admin", AccountID: "12345"}, nil},
		{"empty user and set", identitycenter.Assignment{AccountID: account}, nil},
	}
	for _, tt := range tests {
		for _, revoke := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s revoke=%v", tt.name, revoke), func(t *testing.T) {
				t.Parallel()
				fx := newFixture(t)
				b := fx.backend(fast())
				op := b.Grant
				if revoke {
					op = b.Revoke
				}
				err := op(context.Background(), tt.a)
				switch {
				case tt.target == nil && !errors.Is(err, identitycenter.ErrInvalidAssignment):
					t.Errorf("err = %v, want ErrInvalidAssignment", err)
				case tt.target != nil && !errors.As(err, tt.target):
					t.Errorf("err = %v, want %T", err, tt.target)
				}
				if !identitycenter.IsPermanent(err) {
					t.Errorf("IsPermanent(%v) = false", err)
				}
				if diff := cmp.Diff(map[string]int{create: 0, del: 0}, fx.calls(create, del)); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				if got := fx.holders("Admin", account); len(got) != 0 {
					t.Errorf("holders of Admin = %v, want none", got)
				}
			})
		}
	}
}

func TestAsyncOperations(t *testing.T) {
	t.Parallel()
	const reason = "Received a 409 status error: Your account has reached the maximum number of IAM roles"
	tests := []struct {
		name        string
		revoke      bool
		fault       moto.Fault
		wantErr     error // compared by cmp on the typed error; nil for success
		wantPolls   int
		wantHolders []string
	}{
		{
			name:        "create IN_PROGRESS x3 then SUCCEEDED",
			fault:       moto.InProgress(3),
			wantPolls:   4,
			wantHolders: []string{"alice"},
		},
		{
			name:        "create FAILED",
			fault:       moto.FailedAfter(1, reason),
			wantErr:     &identitycenter.FailedError{Op: identitycenter.OpCreate, Reason: reason},
			wantPolls:   2,
			wantHolders: []string{},
		},
		{
			name:        "create IN_PROGRESS forever",
			fault:       moto.Stuck(),
			wantErr:     &identitycenter.TimeoutError{Op: identitycenter.OpCreate, Polls: 10},
			wantPolls:   10,
			wantHolders: []string{},
		},
		{
			name:        "delete IN_PROGRESS x2 then SUCCEEDED",
			revoke:      true,
			fault:       moto.InProgress(2),
			wantPolls:   3,
			wantHolders: []string{},
		},
		{
			name:        "delete FAILED",
			revoke:      true,
			fault:       moto.FailedAfter(0, "internal failure"),
			wantErr:     &identitycenter.FailedError{Op: identitycenter.OpDelete, Reason: "internal failure"},
			wantPolls:   1,
			wantHolders: []string{"alice"},
		},
		{
			name:        "delete IN_PROGRESS forever",
			revoke:      true,
			fault:       moto.Stuck(),
			wantErr:     &identitycenter.TimeoutError{Op: identitycenter.OpDelete, Polls: 10},
			wantPolls:   10,
			wantHolders: []string{"alice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fx := newFixture(t)
			op, describe := create, moto.OpDescribeCreationStatus
			if tt.revoke {
				op, describe = del, moto.OpDescribeDeletionStatus
				fx.createDirect(types.PrincipalTypeUser, fx.seed.UserIDs["alice"], "Admin", account)
			}
			fx.faults.Inject(op, 1, tt.fault)
			var mu sync.Mutex
			var slept []time.Duration
			opts := fast()
			opts.PollInterval = 250 * time.Millisecond
			opts.Sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				if d == opts.PollInterval {
					slept = append(slept, d)
				}
				return ctx.Err()
			}
			b := fx.backend(opts)
			run := b.Grant
			if tt.revoke {
				run = b.Revoke
			}
			err := run(ctx, alice("Admin"))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tt.wantErr != nil {
				checkTypedErr(t, err, tt.wantErr)
				if identitycenter.IsPermanent(err) {
					t.Errorf("IsPermanent(%v) = true, want transient", err)
				}
			}
			if got := fx.faults.Calls(describe); got != tt.wantPolls {
				t.Errorf("%s calls = %d, want %d", describe, got, tt.wantPolls)
			}
			if len(slept) != tt.wantPolls {
				t.Errorf("poll waits = %v, want %d of %s", slept, tt.wantPolls, opts.PollInterval)
			}
			if diff := cmp.Diff(tt.wantHolders, fx.holders("Admin", account)); diff != "" {
				t.Errorf("holders of Admin (-want +got):\n%s", diff)
			}
			// The cache agrees with AWS: after FAILED without looking
			// again, after a timeout by looking again.
			exists, err := b.Exists(ctx, alice("Admin"))
			if err != nil || exists != (len(tt.wantHolders) == 1) {
				t.Errorf("Exists = %v, %v; want %v", exists, err, len(tt.wantHolders) == 1)
			}
		})
	}
}

// checkTypedErr compares err's *FailedError or *TimeoutError with want,
// ignoring the request id (which must be set).
func checkTypedErr(t *testing.T, err, want error) {
	t.Helper()
	switch want := want.(type) {
	case *identitycenter.FailedError:
		var got *identitycenter.FailedError
		if !errors.As(err, &got) {
			t.Fatalf("err = %v, want *FailedError", err)
		}
		if got.RequestID == "" {
			t.Error("FailedError.RequestID is empty")
		}
		want.RequestID = got.RequestID
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FailedError (-want +got):\n%s", diff)
		}
	case *identitycenter.TimeoutError:
		var got *identitycenter.TimeoutError
		if !errors.As(err, &got) {
			t.Fatalf("err = %v, want *TimeoutError", err)
		}
		want.RequestID = got.RequestID
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("TimeoutError (-want +got):\n%s", diff)
		}
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	type rule struct {
		op    string
		n     int
		fault moto.Fault
	}
	tests := []struct {
		name      string
		rules     []rule
		wantErr   bool
		wantCode  string // AWS error code in the error
		wantCalls map[string]int
	}{
		{
			name:      "throttling x2 and conflict x2 then success",
			rules:     []rule{{create, 2, moto.Throttling()}, {create, 2, moto.Conflict()}},
			wantCalls: map[string]int{create: 5},
		},
		{
			name:      "HTTP 500 x2",
			rules:     []rule{{create, 2, moto.HTTPStatus(500)}},
			wantCalls: map[string]int{create: 3},
		},
		{
			name:      "HTTP 503 on list and describe",
			rules:     []rule{{list, 1, moto.HTTPStatus(503)}, {"DescribePermissionSet", 2, moto.HTTPStatus(503)}},
			wantCalls: map[string]int{list: 2, "DescribePermissionSet": 3, create: 1},
		},
		{
			name:      "connection reset x2 on the Identity Store",
			rules:     []rule{{"GetUserId", 2, moto.ConnectionReset()}},
			wantCalls: map[string]int{"GetUserId": 3, create: 1},
		},
		{
			name:      "connection reset x2 on create",
			rules:     []rule{{create, 2, moto.ConnectionReset()}},
			wantCalls: map[string]int{create: 3},
		},
		{
			name:      "throttled always: bounded",
			rules:     []rule{{create, moto.Always, moto.Throttling()}},
			wantErr:   true,
			wantCode:  "ThrottlingException",
			wantCalls: map[string]int{create: 6},
		},
		{
			name:      "conflict always: bounded",
			rules:     []rule{{create, moto.Always, moto.Conflict()}},
			wantErr:   true,
			wantCode:  "ConflictException",
			wantCalls: map[string]int{create: 6},
		},
		{
			name:      "HTTP 500 always: bounded",
			rules:     []rule{{"ListInstances", moto.Always, moto.HTTPStatus(500)}},
			wantErr:   true,
			wantCode:  "InternalServerException",
			wantCalls: map[string]int{"ListInstances": 6, create: 0},
		},
		{
			name:      "connection reset always: bounded",
			rules:     []rule{{list, moto.Always, moto.ConnectionReset()}},
			wantErr:   true,
			wantCalls: map[string]int{list: 6, create: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			ops := []string{create}
			for _, r := range tt.rules {
				fx.faults.Inject(r.op, r.n, r.fault)
			}
			for op := range tt.wantCalls {
				ops = append(ops, op)
			}
			err := fx.backend(fast()).Grant(context.Background(), alice("Admin"))
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && identitycenter.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true, want transient", err)
			}
			if tt.wantCode != "" && !hasCode(err, tt.wantCode) {
				t.Errorf("err = %v, want code %s", err, tt.wantCode)
			}
			got := fx.calls(ops...)
			if diff := cmp.Diff(tt.wantCalls, got, cmpSubset(tt.wantCalls)); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if u := fx.faults.Unused(); len(u) != 0 {
				t.Errorf("faults not used: %v", u)
			}
			want := []string{"alice"}
			if tt.wantErr {
				want = []string{}
			}
			if diff := cmp.Diff(want, fx.holders("Admin", account)); diff != "" {
				t.Errorf("holders of Admin (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpSubset compares only the keys of want.
func cmpSubset(want map[string]int) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		if mi, ok := p.Last().(cmp.MapIndex); ok {
			_, in := want[mi.Key().String()]
			return !in
		}
		return false
	}, cmp.Ignore())
}

func hasCode(err error, code string) bool {
	var apiErr interface{ ErrorCode() string }
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.faults.Inject("GetUserId", moto.Always, moto.Delay(time.Hour))
	opts := fast()
	opts.CallTimeout = 200 * time.Millisecond
	start := time.Now()
	err := fx.backend(opts).Grant(context.Background(), alice("Admin"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if identitycenter.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Grant took %s, want about %s", d, opts.CallTimeout)
	}
}

func TestConcurrentGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n, maxInFlight = 100, 5
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user%03d", i)
	}
	fx := newFixture(t, users...)
	fx.faults.Inject(create, moto.Always, moto.InProgress(2))
	fx.faults.Inject(del, moto.Always, moto.InProgress(1))
	opts := fast()
	opts.MaxInFlight = maxInFlight
	opts.PollInterval = 2 * time.Millisecond
	b := fx.backend(opts)

	each := func(do func(context.Context, identitycenter.Assignment) error) {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, u := range users {
			wg.Go(func() {
				errs[i] = do(ctx, identitycenter.Assignment{UserName: u, PermissionSet: "Admin", AccountID: account})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}

	each(b.Grant)
	if diff := cmp.Diff(users, fx.holders("Admin", account)); diff != "" {
		t.Errorf("holders after grants (-want +got):\n%s", diff)
	}
	each(b.Revoke)
	if got := fx.holders("Admin", account); len(got) != 0 {
		t.Errorf("holders after revokes = %v, want none", got)
	}

	got := fx.faults.MaxOutstanding()
	t.Logf("at most %d assignment operations outstanding; %s", got, fx.faults)
	if got > maxInFlight {
		t.Errorf("MaxOutstanding() = %d, want <= MaxInFlight %d", got, maxInFlight)
	}
	if got < 2 {
		t.Errorf("MaxOutstanding() = %d: the grants did not run concurrently", got)
	}
	if got := fx.faults.MaxConcurrent(create); got > maxInFlight {
		t.Errorf("MaxConcurrent(%s) = %d, want <= %d", create, got, maxInFlight)
	}
	want := map[string]int{create: n, del: n, list: 1, "GetUserId": n, "ListPermissionSets": 1, "ListInstances": 1}
	if diff := cmp.Diff(want, fx.calls("ListInstances", "ListPermissionSets", "GetUserId", list, create, del)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestConcurrentSameAssignment(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	fx.faults.Inject(create, moto.Always, moto.InProgress(1))
	b := fx.backend(fast())
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { errs[i] = b.Grant(context.Background(), alice("Admin")) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := fx.faults.Calls(create); got != 1 {
		t.Errorf("creates = %d, want 1", got)
	}
	if diff := cmp.Diff([]string{"alice"}, fx.holders("Admin", account)); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture(t, "alice", "bob", "carol")
	b := fx.backend(fast())
	for _, a := range []identitycenter.Assignment{
		{UserName: "alice", PermissionSet: "Admin", AccountID: account},
		{UserName: "bob", PermissionSet: "Admin", AccountID: account},
		{UserName: "carol", PermissionSet: "ReadOnly", AccountID: account2},
	} {
		if err := b.Grant(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	fx.createDirect(types.PrincipalTypeGroup, "group-1", "Admin", account)
	fx.createDirect(types.PrincipalTypeUser, "gone-user-id", "ReadOnly", account)
	// A duplicate, which moto keeps.
	fx.createDirect(types.PrincipalTypeUser, fx.seed.UserIDs["alice"], "Admin", account)
	// Not asked for: another account.
	fx.createDirect(types.PrincipalTypeUser, fx.seed.UserIDs["alice"], "Admin", "999999999999")

	got, err := fx.backend(fast()).List(ctx, []string{"ReadOnly", "Admin"}, []string{account2, account})
	if err != nil {
		t.Fatal(err)
	}
	id := fx.seed.UserIDs
	want := []identitycenter.Assignment{
		{UserName: "alice", PermissionSet: "Admin", AccountID: account, UserID: id["alice"]},
		{UserName: "bob", PermissionSet: "Admin", AccountID: account, UserID: id["bob"]},
		{UserName: "", PermissionSet: "ReadOnly", AccountID: account, UserID: "gone-user-id"},
		{UserName: "carol", PermissionSet: "ReadOnly", AccountID: account2, UserID: id["carol"]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		sets     []string
		accounts []string
		check    func(error) bool
	}{
		{"unknown permission set", []string{"Admin", "Nope"}, []string{account}, func(err error) bool {
			var nf *identitycenter.PermissionSetNotFoundError
			return errors.As(err, &nf) && nf.Name == "Nope"
		}},
		{"bad account id", []string{"Admin"}, []string{account, "abc"}, func(err error) bool {
			return errors.Is(err, identitycenter.ErrInvalidAssignment)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			_, err := fx.backend(fast()).List(context.Background(), tt.sets, tt.accounts)
			if !tt.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestSessionDuration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture(t)
	sso := ssoadmin.NewFromConfig(moto.WithoutFaults(fx.cfg))
	for name, d := range map[string]string{"Long": "PT12H", "Mixed": "PT2H30M"} {
		if _, err := sso.CreatePermissionSet(ctx, &ssoadmin.CreatePermissionSetInput{
			InstanceArn: aws.String(fx.seed.InstanceARN), Name: aws.String(name), SessionDuration: aws.String(d),
		}); err != nil {
			t.Fatal(err)
		}
	}
	b := fx.backend(fast())
	tests := []struct {
		set  string
		want time.Duration
	}{
		{"Admin", time.Hour},
		{"Long", 12 * time.Hour},
		{"Mixed", 150 * time.Minute},
	}
	for _, tt := range tests {
		got, err := b.SessionDuration(ctx, tt.set)
		if err != nil || got != tt.want {
			t.Errorf("SessionDuration(%q) = %s, %v; want %s", tt.set, got, err, tt.want)
		}
	}
	var nf *identitycenter.PermissionSetNotFoundError
	if _, err := b.SessionDuration(ctx, "Nope"); !errors.As(err, &nf) {
		t.Errorf("SessionDuration(Nope): err = %v, want *PermissionSetNotFoundError", err)
	}
	// Every set was described once, whatever the order of lookups.
	if got := fx.faults.Calls("DescribePermissionSet"); got != 4 {
		t.Errorf("DescribePermissionSet calls = %d, want 4", got)
	}
}

// listings replaces ListInstances or ListAccountAssignments of a real
// client.
type listings struct {
	identitycenter.SSOAdmin
	instances []types.InstanceMetadata
	token     func(call int) *string
	calls     int
}

func (l *listings) ListInstances(ctx context.Context, in *ssoadmin.ListInstancesInput, opts ...func(*ssoadmin.Options)) (*ssoadmin.ListInstancesOutput, error) {
	if l.instances == nil {
		return l.SSOAdmin.ListInstances(ctx, in, opts...)
	}
	return &ssoadmin.ListInstancesOutput{Instances: l.instances}, nil
}

func (l *listings) ListAccountAssignments(ctx context.Context, in *ssoadmin.ListAccountAssignmentsInput, opts ...func(*ssoadmin.Options)) (*ssoadmin.ListAccountAssignmentsOutput, error) {
	l.calls++
	if l.token == nil {
		return l.SSOAdmin.ListAccountAssignments(ctx, in, opts...)
	}
	return &ssoadmin.ListAccountAssignmentsOutput{NextToken: l.token(l.calls)}, nil
}

func TestBoundedListings(t *testing.T) {
	t.Parallel()
	instance := types.InstanceMetadata{InstanceArn: aws.String("arn:aws:sso:::instance/ssoins-1"), IdentityStoreId: aws.String("d-1")}
	tests := []struct {
		name      string
		stub      listings
		wantErr   string
		wantCalls int
	}{
		{
			name:    "no instance",
			stub:    listings{instances: []types.InstanceMetadata{}},
			wantErr: "no IAM Identity Center instance",
		},
		{
			name:    "two instances",
			stub:    listings{instances: []types.InstanceMetadata{instance, instance}},
			wantErr: "found 2 IAM Identity Center instances",
		},
		{
			name:      "repeated page token",
			stub:      listings{token: func(int) *string { return aws.String("same") }},
			wantErr:   `page token "same" repeated`,
			wantCalls: 2,
		},
		{
			name:      "endless pages",
			stub:      listings{token: func(i int) *string { return aws.String(fmt.Sprint(i)) }},
			wantErr:   "more than 7 pages",
			wantCalls: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			stub := tt.stub
			stub.SSOAdmin = ssoadmin.NewFromConfig(fx.cfg)
			ids := identitystore.NewFromConfig(fx.cfg)
			opts := fast()
			opts.MaxPages = 7
			err := identitycenter.New(&stub, ids, opts).Grant(context.Background(), alice("Admin"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if stub.calls != tt.wantCalls {
				t.Errorf("ListAccountAssignments calls = %d, want %d", stub.calls, tt.wantCalls)
			}
			if got := fx.faults.Calls(create); got != 0 {
				t.Errorf("creates = %d, want 0", got)
			}
		})
	}
}
