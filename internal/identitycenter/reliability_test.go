package identitycenter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// TestRateLimitCoversRetries checks that the calls per second stay within
// RatePerSecond when many calls are throttled and retried: the limit is
// applied to each HTTP request, not to each SDK operation.
func TestRateLimitCoversRetries(t *testing.T) {
	t.Parallel()
	const n, rate = 30, 60
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user%02d", i)
	}
	fx := newFixture(t, users...)
	// Every other call of these fails once and is retried at once.
	fx.faults.Inject(create, n/2, moto.Throttling())
	fx.faults.Inject("GetUserId", n/2, moto.HTTPStatus(503))
	opts := fast()
	opts.RatePerSecond = rate
	b := fx.backend(opts)
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	for i, u := range users {
		wg.Go(func() {
			errs[i] = b.Grant(context.Background(), identitycenter.Assignment{UserName: u, PermissionSet: "Admin", AccountID: account})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total := fx.faults.Total()
	if total < 2*n+n {
		t.Fatalf("only %d calls: the faults did not cause retries (%s)", total, fx.faults)
	}
	if got := fx.faults.MaxPerSecond(); got > rate+1 {
		t.Errorf("MaxPerSecond() = %d with RatePerSecond %d (%d calls in %s)", got, rate, total, time.Since(start).Round(time.Millisecond))
	}
	if min := time.Duration(float64(total-1) / rate * float64(time.Second)); time.Since(start) < min {
		t.Errorf("%d calls took %s, less than the %s the rate allows", total, time.Since(start), min)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture(t)
	b := fx.backend(fast())
	if err := b.Grant(ctx, alice("Admin")); err != nil {
		t.Fatal(err)
	}
	// Another run removes it.
	if err := fx.backend(fast()).Revoke(ctx, alice("Admin")); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Exists(ctx, alice("Admin")); err != nil || !ok {
		t.Fatalf("Exists before Refresh = %v, %v; want the cached true", ok, err)
	}
	b.Refresh()
	if ok, err := b.Exists(ctx, alice("Admin")); err != nil || ok {
		t.Fatalf("Exists after Refresh = %v, %v; want false", ok, err)
	}
	if err := b.Grant(ctx, alice("Admin")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alice"}, fx.holders("Admin", account)); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
}

// TestRevokeByUserID removes the assignment of a user who is no longer in
// the Identity Store, which List reports by id only.
func TestRevokeByUserID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := newFixture(t)
	fx.createDirect(types.PrincipalTypeUser, "gone-user-id", "Admin", account)
	b := fx.backend(fast())
	got, err := b.List(ctx, []string{"Admin"}, []string{account})
	if err != nil || len(got) != 1 || got[0].UserName != "" {
		t.Fatalf("List = %v, %v; want the gone user by id", got, err)
	}
	if err := b.Revoke(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if held := fx.holders("Admin", account); len(held) != 0 {
		t.Errorf("holders after revoke = %v, want none", held)
	}
	if err := b.Revoke(ctx, identitycenter.Assignment{PermissionSet: "Admin", AccountID: account}); err == nil || !identitycenter.IsPermanent(err) {
		t.Errorf("revoke with neither name nor id: err = %v, want a permanent error", err)
	}
}
