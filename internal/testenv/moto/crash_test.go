package moto_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

func TestKillAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := moto.NewFaults().KillAfter("ListInstances", 2)
	sso := ssoadmin.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), noRetry)
	for i := 1; i <= 2; i++ {
		if _, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{}); err != nil {
			t.Fatalf("call %d before the kill: %v", i, err)
		}
	}
	if !f.Killed() {
		t.Fatal("Killed() = false after the second call")
	}
	_, err := sso.ListPermissionSets(ctx, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String("arn:aws:sso:::instance/ssoins-1")})
	if !errors.Is(err, moto.ErrKilled) {
		t.Errorf("call after the kill: err = %v, want ErrKilled", err)
	}
	if f.Refused() != 1 || f.Calls("ListPermissionSets") != 0 {
		t.Errorf("Refused() = %d, Calls = %d; want 1 refused and none counted", f.Refused(), f.Calls("ListPermissionSets"))
	}
}

func TestReached(t *testing.T) {
	t.Parallel()
	f := moto.NewFaults().Inject("ListInstances", 1, moto.Delay(time.Hour))
	sso := ssoadmin.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), noRetry)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
		done <- err
	}()
	select {
	case <-f.Reached("ListInstances", 1):
	case <-time.After(10 * time.Second):
		t.Fatal("Reached never fired")
	}
	select {
	case err := <-done:
		t.Fatalf("the held call returned early: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("held call: err = %v, want context.Canceled", err)
	}
	select {
	case <-f.Reached("ListInstances", 1):
	default:
		t.Error("Reached for a call already made did not fire at once")
	}
}

// TestAssignmentSet checks that concurrent creates of one assignment leave
// one, as in AWS, where plain moto would store each.
func TestAssignmentSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := moto.NewFaults().AssignmentSet().Inject(moto.OpCreateAccountAssignment, 1, moto.InProgress(1))
	cfg := moto.Shared().Config(t, moto.WithFaults(f))
	seed, err := moto.Seed(ctx, cfg, []string{"alice"}, []string{"Admin"})
	if err != nil {
		t.Fatal(err)
	}
	sso := ssoadmin.NewFromConfig(cfg, noRetry)
	in := &ssoadmin.CreateAccountAssignmentInput{
		InstanceArn:      aws.String(seed.InstanceARN),
		PermissionSetArn: aws.String(seed.PermissionSetARNs["Admin"]),
		PrincipalId:      aws.String(seed.UserIDs["alice"]),
		PrincipalType:    types.PrincipalTypeUser,
		TargetId:         aws.String(account),
		TargetType:       types.TargetTypeAwsAccount,
	}
	// The first create is held IN_PROGRESS and applied by its Describe.
	first, err := sso.CreateAccountAssignment(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	states := make([]types.StatusValues, 5)
	for i := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				d, err := sso.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
					InstanceArn: in.InstanceArn, AccountAssignmentCreationRequestId: first.AccountAssignmentCreationStatus.RequestId})
				if err == nil {
					d, err = sso.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
						InstanceArn: in.InstanceArn, AccountAssignmentCreationRequestId: first.AccountAssignmentCreationStatus.RequestId})
				}
				if err != nil {
					t.Error(err)
					return
				}
				states[i] = d.AccountAssignmentCreationStatus.Status
				return
			}
			out, err := sso.CreateAccountAssignment(ctx, in)
			if err != nil {
				t.Error(err)
				return
			}
			states[i] = out.AccountAssignmentCreationStatus.Status
		}()
	}
	wg.Wait()
	for i, s := range states {
		if s != types.StatusValuesSucceeded {
			t.Errorf("create %d: %s, want SUCCEEDED", i, s)
		}
	}
	held, err := seed.Assignments(ctx, cfg, account, "Admin")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alice"}, held); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
	if got := f.Redundant(); got < 4 {
		t.Errorf("Redundant() = %d, want at least the 4 creates after the first", got)
	}
}

func TestMaxPerSecond(t *testing.T) {
	t.Parallel()
	f := moto.NewFaults()
	sso := ssoadmin.NewFromConfig(moto.Shared().Config(t, moto.WithFaults(f)), noRetry)
	for range 5 {
		if _, err := sso.ListInstances(context.Background(), &ssoadmin.ListInstancesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.MaxPerSecond(); got != 5 {
		t.Errorf("MaxPerSecond() = %d, want 5", got)
	}
}

// TestProxy reaches moto the way a separate process would: through
// AWS_ENDPOINT_URL-style configuration only.
func TestProxy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := moto.NewFaults().Inject("ListInstances", 1, moto.Throttling())
	proxy, accountID := moto.Shared().Proxy(t, moto.WithFaults(f))
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(moto.Region), config.WithBaseEndpoint(proxy),
		config.WithCredentialsProvider(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	sso := ssoadmin.NewFromConfig(cfg)
	out, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("ListInstances through the proxy: %v, %v", out, err)
	}
	direct, err := moto.Seed(ctx, moto.Shared().Config(t, moto.WithAccountID(accountID)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Instances[0].InstanceArn); got != direct.InstanceARN {
		t.Errorf("proxy reached instance %s, want account %s's %s", got, accountID, direct.InstanceARN)
	}
	if got := f.Calls("ListInstances"); got != 2 {
		t.Errorf("Calls(ListInstances) = %d, want 2 (the throttled call and its retry)", got)
	}
}
