package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/google/go-cmp/cmp"

	"github.com/elevate-dev/elevate/internal/reconcile"
	"github.com/elevate-dev/elevate/internal/testenv/moto"
	"github.com/elevate-dev/elevate/internal/testenv/world"
)

const (
	prod      = "111122223333"
	unmanaged = "999999999999"
	power     = "PowerUserAccess"
)

// assign creates an assignment behind elevate's back, as an admin in the
// console would.
func assign(t *testing.T, w *world.World, userID, set, account string) {
	t.Helper()
	sso := ssoadmin.NewFromConfig(moto.WithoutFaults(w.AWS))
	_, err := sso.CreateAccountAssignment(context.Background(), &ssoadmin.CreateAccountAssignmentInput{
		InstanceArn: aws.String(w.Seed.InstanceARN), PermissionSetArn: aws.String(w.Seed.PermissionSetARNs[set]),
		PrincipalId: aws.String(userID), PrincipalType: types.PrincipalTypeUser,
		TargetId: aws.String(account), TargetType: types.TargetTypeAwsAccount,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDrift: assignments of managed permission sets on managed accounts
// that no open request explains are reported by `elevate plan`, and
// removed (and recorded) by reconcile only where the policy that applies
// says removeUnexplained. Unmanaged sets and accounts are never touched.
func TestDrift(t *testing.T) {
	t.Parallel()
	w := world.New(t)
	sandboxPolicy := w.RemoteFile("policies/sandbox.yaml") + "\nremoveUnexplained: true\n"
	w.Merge(world.PR{Files: map[string]string{"policies/sandbox.yaml": sandboxPolicy}, Author: "carol", Approvers: []string{"grace"}})
	merge(w, "frank-ok", requestFile("frank", admin, "4h", ""))
	ids := w.Seed.UserIDs
	assign(t, w, ids[user("alice")], admin, sandbox)   // managed, removeUnexplained: removed
	assign(t, w, ids[user("frank")], admin, sandbox)   // explained by frank-ok (once granted)
	assign(t, w, ids[user("bob")], admin, prod)        // managed, no removeUnexplained: reported
	assign(t, w, ids[user("carol")], admin, unmanaged) // no policy names the account
	assign(t, w, ids[user("alice")], power, sandbox)   // no policy names the set on sandbox
	gone, err := world.CreateUser(w, "gone@example.com")
	if err != nil {
		t.Fatal(err)
	}
	assign(t, w, gone, reader, sandbox)
	if _, err := identitystore.NewFromConfig(moto.WithoutFaults(w.AWS)).DeleteUser(context.Background(), &identitystore.DeleteUserInput{
		IdentityStoreId: aws.String(w.Seed.IdentityStoreID), UserId: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	delete(w.Seed.UserIDs, "gone@example.com")
	now := t0.Add(time.Minute)

	// plan reports, for every managed pair, what no open request explains.
	code, out, _ := w.Run(now, "plan")
	if code != 0 {
		t.Fatalf("plan exit %d:\n%s", code, out)
	}
	var unexplained []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == string(reconcile.Unexplained) {
			unexplained = append(unexplained, f[3]+" "+f[4]+" "+strings.Join(f[7:10], " "))
		}
	}
	want := []string{
		prod + " " + admin + " held by bob@example.com;",
		sandbox + " " + admin + " held by alice@example.com;",
		sandbox + " " + reader + " held by user",
	}
	if diff := cmp.Diff(want, unexplained); diff != "" {
		t.Errorf("plan's unexplained assignments (-want +got):\n%s\n%s", diff, out)
	}
	if strings.Contains(out, "frank@example.com;") {
		t.Errorf("plan calls frank's assignment unexplained, but frank-ok (approved, not yet granted) is open:\n%s", out)
	}

	// reconcile removes only where the applicable policy says so.
	res := mustReconcile(t, w, now, nil)
	var removed []string
	for _, s := range res.Steps {
		if s.Kind == reconcile.Remove {
			removed = append(removed, s.Status.Account+" "+s.Status.PermissionSet+" "+s.Status.UserName)
		}
	}
	if diff := cmp.Diff([]string{sandbox + " " + admin + " " + user("alice"), sandbox + " " + reader + " "}, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	standing := []world.Tuple{{User: user("bob"), PermissionSet: admin, Account: prod}, tuple("alice", power)}
	s := w.Agree(t, []string{"frank-ok"}, standing...)
	if diff := cmp.Diff([]world.Tuple{tuple("alice", power), {User: user("bob"), PermissionSet: admin, Account: prod}, tuple("frank", admin)}, s.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	log := w.RemoteLog()
	removals := 0
	for _, m := range log {
		if strings.Contains(m, "Action: remove-unexplained") {
			removals++
			if !strings.Contains(m, "Policy: sandbox") || !strings.Contains(m, "Elevate-State: v1") {
				t.Errorf("removal commit without its trailers:\n%s", m)
			}
		}
	}
	if removals != 2 {
		t.Errorf("%d removal commits, want 2", removals)
	}

	// Nothing is left to remove, and unmanaged assignments stay.
	res = mustReconcile(t, w, now.Add(time.Minute), nil)
	for _, s := range res.Steps {
		if s.Kind == reconcile.Remove {
			t.Errorf("second run removes %+v", s.Status)
		}
	}
	if got, err := w.Seed.Assignments(context.Background(), w.AWS, unmanaged, admin); err != nil || !cmp.Equal(got, []string{user("carol")}) {
		t.Errorf("unmanaged account: %v, %v; want carol's assignment untouched", got, err)
	}
}
