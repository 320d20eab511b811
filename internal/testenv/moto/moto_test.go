package moto_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

func TestMain(m *testing.M) { moto.Main(m) }

const account = "210987654321"

// noRetry makes the SDK show each injected fault as it is.
func noRetry(o *ssoadmin.Options) { o.Retryer = aws.NopRetryer{} }

func TestStartStop(t *testing.T) {
	t.Parallel()
	s, err := moto.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", s.URL())
	}
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatalf("server does not answer: %v", err)
	}
	resp.Body.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := http.Get(s.URL() + "/"); err == nil {
		t.Error("server still answers after Stop")
	}
}

// TestStartWithoutMotoServer cannot be parallel: it changes PATH.
func TestStartWithoutMotoServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	s, err := moto.Start()
	if err == nil {
		s.Stop()
		t.Fatal("Start found a moto_server in an empty PATH")
	}
	if !errors.Is(err, moto.ErrNotFound) || !strings.Contains(err.Error(), `pip install "moto[server]"`) {
		t.Errorf("err = %v, want %v", err, moto.ErrNotFound)
	}
}

func TestDelayForwards(t *testing.T) {
	t.Parallel()
	f := moto.NewFaults().Inject("*", 1, moto.Delay(100*time.Millisecond))
	sso := ssoadmin.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), noRetry)
	start := time.Now()
	out, err := sso.ListInstances(context.Background(), &ssoadmin.ListInstancesInput{})
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("ListInstances after a delay: %v, %v", out, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("call took %s, want at least the 100ms delay", d)
	}
	if got := f.MaxConcurrent("ListInstances"); got != 1 {
		t.Errorf("MaxConcurrent = %d, want 1", got)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := moto.Shared().Config(t)
	b := moto.Shared().Config(t)
	if moto.AccountID(a) == moto.AccountID(b) || len(moto.AccountID(a)) != 12 {
		t.Fatalf("account ids %q and %q: want two different 12-digit ids", moto.AccountID(a), moto.AccountID(b))
	}
	sa, err := moto.Seed(ctx, a, []string{"alice"}, []string{"Admin"})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := moto.Seed(ctx, b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sa.InstanceARN == sb.InstanceARN {
		t.Errorf("both accounts see instance %s", sa.InstanceARN)
	}
	same := moto.Shared().Config(t, moto.WithAccountID(moto.AccountID(a)))
	again, err := moto.Seed(ctx, same, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.InstanceARN != sa.InstanceARN {
		t.Errorf("WithAccountID: instance %s, want %s", again.InstanceARN, sa.InstanceARN)
	}
}

func TestRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	cfg := moto.Shared().Config(t)
	req, err := http.NewRequest(http.MethodGet, "https://example.com/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.HTTPClient.Do(req); err == nil || !strings.Contains(err.Error(), "refusing request") {
		t.Fatalf("request to example.com: err = %v, want a refusal", err)
	}
}

func TestErrorFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault moto.Fault
		check func(t *testing.T, err error)
	}{
		{"throttling", moto.Throttling(), wantCode("ThrottlingException")},
		{"conflict", moto.Conflict(), wantCode("ConflictException")},
		{"http 503", moto.HTTPStatus(503), wantStatus(503)},
		{"connection reset", moto.ConnectionReset(), func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v, want ECONNRESET", err)
			}
		}},
		{"delay past deadline", moto.Delay(time.Hour), func(t *testing.T, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := moto.NewFaults().Inject("ListInstances", 1, tt.fault)
			sso := ssoadmin.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), noRetry)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
			tt.check(t, err)
			if _, err := sso.ListInstances(context.Background(), &ssoadmin.ListInstancesInput{}); err != nil {
				t.Errorf("second call (rule used up): %v", err)
			}
			if got := f.Calls("ListInstances"); got != 2 {
				t.Errorf("Calls(ListInstances) = %d, want 2", got)
			}
			if u := f.Unused(); len(u) != 0 {
				t.Errorf("Unused() = %v", u)
			}
		})
	}
}

func TestQueryProtocolError(t *testing.T) {
	t.Parallel()
	f := moto.NewFaults().Inject("GetRole", moto.Always, moto.APIError(400, "Throttling", "Rate exceeded"))
	client := iam.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), func(o *iam.Options) { o.Retryer = aws.NopRetryer{} })
	_, err := client.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("r")})
	wantCode("Throttling")(t, err)
}

func TestAsyncFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      moto.Fault
		wantStates []string // Create's answer, then each Describe's
		wantReason string
		wantHeld   []string // holders after the last Describe
	}{
		{
			name:       "in progress then succeeded",
			fault:      moto.InProgress(2),
			wantStates: []string{"IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED", "SUCCEEDED"},
			wantHeld:   []string{"alice"},
		},
		{
			name:       "failed",
			fault:      moto.FailedAfter(1, "quota of IAM roles reached"),
			wantStates: []string{"IN_PROGRESS", "IN_PROGRESS", "FAILED", "FAILED"},
			wantReason: "quota of IAM roles reached",
			wantHeld:   []string{},
		},
		{
			name:       "stuck",
			fault:      moto.Stuck(),
			wantStates: []string{"IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS"},
			wantHeld:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := moto.NewFaults().Inject(moto.OpCreateAccountAssignment, 1, tt.fault)
			cfg := moto.Shared().Config(t, moto.WithFaults(f))
			seed, err := moto.Seed(ctx, cfg, []string{"alice"}, []string{"Admin"})
			if err != nil {
				t.Fatal(err)
			}
			sso := ssoadmin.NewFromConfig(cfg, noRetry)
			out, err := sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{
				InstanceArn:      aws.String(seed.InstanceARN),
				PermissionSetArn: aws.String(seed.PermissionSetARNs["Admin"]),
				PrincipalId:      aws.String(seed.UserIDs["alice"]),
				PrincipalType:    types.PrincipalTypeUser,
				TargetId:         aws.String(account),
				TargetType:       types.TargetTypeAwsAccount,
			})
			if err != nil {
				t.Fatal(err)
			}
			st := out.AccountAssignmentCreationStatus
			states := []string{string(st.Status)}
			if held, err := seed.Assignments(ctx, cfg, account, "Admin"); err != nil || len(held) != 0 {
				t.Errorf("while IN_PROGRESS: holders %v (err %v), want none", held, err)
			}
			var reason string
			for len(states) < len(tt.wantStates) {
				d, err := sso.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
					InstanceArn:                        aws.String(seed.InstanceARN),
					AccountAssignmentCreationRequestId: st.RequestId,
				})
				if err != nil {
					t.Fatal(err)
				}
				states = append(states, string(d.AccountAssignmentCreationStatus.Status))
				reason = aws.ToString(d.AccountAssignmentCreationStatus.FailureReason)
				if got := aws.ToString(d.AccountAssignmentCreationStatus.PrincipalId); got != seed.UserIDs["alice"] {
					t.Errorf("Describe PrincipalId = %q, want %q", got, seed.UserIDs["alice"])
				}
			}
			if diff := cmp.Diff(tt.wantStates, states); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if reason != tt.wantReason {
				t.Errorf("FailureReason = %q, want %q", reason, tt.wantReason)
			}
			held, err := seed.Assignments(ctx, cfg, account, "Admin")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantHeld, held); diff != "" {
				t.Errorf("holders (-want +got):\n%s", diff)
			}
			if got := f.MaxOutstanding(); got != 1 {
				t.Errorf("MaxOutstanding() = %d, want 1", got)
			}
		})
	}
}

func TestAsyncDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := moto.NewFaults().Inject(moto.OpDeleteAccountAssignment, 1, moto.InProgress(1))
	cfg := moto.Shared().Config(t, moto.WithFaults(f))
	seed, err := moto.Seed(ctx, cfg, []string{"bob"}, []string{"Read"})
	if err != nil {
		t.Fatal(err)
	}
	sso := ssoadmin.NewFromConfig(cfg, noRetry)
	in := assignmentInput(seed, "bob", "Read")
	if _, err := sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{
		InstanceArn: in.InstanceArn, PermissionSetArn: in.PermissionSetArn, PrincipalId: in.PrincipalId,
		PrincipalType: in.PrincipalType, TargetId: in.TargetId, TargetType: in.TargetType,
	}); err != nil {
		t.Fatal(err)
	}
	out, err := sso.DeleteAccountAssignment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.AccountAssignmentDeletionStatus.Status; got != types.StatusValuesInProgress {
		t.Fatalf("delete status %s, want IN_PROGRESS", got)
	}
	var got []string
	for range 2 {
		held, err := seed.Assignments(ctx, cfg, account, "Read")
		if err != nil {
			t.Fatal(err)
		}
		d, err := sso.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
			InstanceArn:                        in.InstanceArn,
			AccountAssignmentDeletionRequestId: out.AccountAssignmentDeletionStatus.RequestId,
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(held, ",")+" "+string(d.AccountAssignmentDeletionStatus.Status))
	}
	held, err := seed.Assignments(ctx, cfg, account, "Read")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, strings.Join(held, ","))
	if diff := cmp.Diff([]string{"bob IN_PROGRESS", "bob SUCCEEDED", ""}, got); diff != "" {
		t.Errorf("holders and states (-want +got):\n%s", diff)
	}
	if got := f.Calls(moto.OpDescribeDeletionStatus); got != 2 {
		t.Errorf("describe calls = %d, want 2 (%s)", got, f)
	}
}

func assignmentInput(seed moto.Seeded, user, set string) *ssoadmin.DeleteAccountAssignmentInput {
	return &ssoadmin.DeleteAccountAssignmentInput{
		InstanceArn:      aws.String(seed.InstanceARN),
		PermissionSetArn: aws.String(seed.PermissionSetARNs[set]),
		PrincipalId:      aws.String(seed.UserIDs[user]),
		PrincipalType:    types.PrincipalTypeUser,
		TargetId:         aws.String(account),
		TargetType:       types.TargetTypeAwsAccount,
	}
}

func TestInjectRejectsMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func()
	}{
		{"zero count", func() { moto.NewFaults().Inject("ListInstances", 0, moto.Throttling()) }},
		{"async on a sync op", func() { moto.NewFaults().Inject("ListInstances", 1, moto.Stuck()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.call()
		})
	}
}

func wantCode(code string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var apiErr interface{ ErrorCode() string }
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
			t.Errorf("err = %v, want API error %s", err, code)
		}
	}
}

func wantStatus(status int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var respErr interface{ HTTPStatusCode() int }
		if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != status {
			t.Errorf("err = %v, want HTTP %d", err, status)
		}
	}
}
