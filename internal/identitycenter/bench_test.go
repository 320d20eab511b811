package identitycenter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/elevate-dev/elevate/internal/identitycenter"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
)

// BenchmarkGrantRevoke grants and revokes one assignment per op against
// moto and reports what it costs in Identity Center calls.
func BenchmarkGrantRevoke(b *testing.B) {
	users := make([]string, 20)
	for i := range users {
		users[i] = fmt.Sprintf("user%02d", i)
	}
	tests := []struct {
		name string
		// account of the i-th op
		account func(i int) string
		// a new Backend (cold caches) for every op
		cold   bool
		faults func(*moto.Faults)
	}{
		{name: "one-account", account: func(int) string { return account }},
		{name: "account-per-op", account: func(i int) string { return fmt.Sprintf("%012d", 100_000_000_000+i) }},
		{name: "cold-backend-per-op", account: func(int) string { return account }, cold: true},
		{
			name:    "one-account-async-3-polls",
			account: func(int) string { return account },
			faults: func(f *moto.Faults) {
				f.Inject(create, moto.Always, moto.InProgress(3))
				f.Inject(del, moto.Always, moto.InProgress(3))
			},
		},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			ctx := context.Background()
			fx := newFixture(b, users...)
			if tt.faults != nil {
				tt.faults(fx.faults)
			}
			opts := fast()
			opts.PollInterval = time.Millisecond
			be := fx.backend(opts)
			for i := 0; b.Loop(); i++ {
				if tt.cold {
					be = fx.backend(opts)
				}
				a := identitycenter.Assignment{UserName: users[i%len(users)], PermissionSet: "Admin", AccountID: tt.account(i)}
				if err := be.Grant(ctx, a); err != nil {
					b.Fatal(err)
				}
				if err := be.Revoke(ctx, a); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			polls := fx.faults.Calls(moto.OpDescribeCreationStatus) + fx.faults.Calls(moto.OpDescribeDeletionStatus)
			b.ReportMetric(float64(fx.faults.Total())/n, "calls/op")
			b.ReportMetric(float64(fx.faults.Calls(create))/n, "creates/op")
			b.ReportMetric(float64(fx.faults.Calls(del))/n, "deletes/op")
			b.ReportMetric(float64(fx.faults.Calls(list))/n, "lists/op")
			b.ReportMetric(float64(polls)/n, "polls/op")
		})
	}
}
