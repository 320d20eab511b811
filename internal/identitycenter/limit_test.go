package identitycenter

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var slept []time.Duration
	l := newLimiter(10, func() time.Time { return now }, func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	})
	wait := func() {
		t.Helper()
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Four calls at the same instant: spaced 100ms apart.
	for range 4 {
		wait()
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	if diff := cmp.Diff(want, slept); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	// After an idle second the next call goes at once: no burst is saved up.
	now = now.Add(time.Second)
	slept = nil
	wait()
	wait()
	if diff := cmp.Diff([]time.Duration{100 * time.Millisecond}, slept); diff != "" {
		t.Errorf("sleeps after idle (-want +got):\n%s", diff)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx); err == nil {
		t.Error("wait with a cancelled context: no error")
	}
}
