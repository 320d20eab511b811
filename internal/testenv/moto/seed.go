package moto

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	idtypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

// maxPages bounds every pagination loop here: moto can paginate forever
// when an assignment was created twice.
const maxPages = 100

// Seeded is the Identity Center data Seed created in one account namespace.
type Seeded struct {
	InstanceARN     string
	IdentityStoreID string
	// UserIDs maps each seeded user name to its Identity Store user id.
	UserIDs map[string]string
	// PermissionSetARNs maps each seeded permission set name to its ARN.
	PermissionSetARNs map[string]string
}

// Seed discovers the account's Identity Center instance and creates the
// given Identity Store users and permission sets (SessionDuration PT1H).
// It bypasses cfg's fault injector, so seeding is neither faulted nor
// counted.
func Seed(ctx context.Context, cfg aws.Config, users, permissionSets []string) (Seeded, error) {
	cfg = WithoutFaults(cfg)
	sso := ssoadmin.NewFromConfig(cfg)
	ids := identitystore.NewFromConfig(cfg)

	inst, err := sso.ListInstances(ctx, &ssoadmin.ListInstancesInput{})
	if err != nil {
		return Seeded{}, fmt.Errorf("seed: list instances: %w", err)
	}
	if len(inst.Instances) != 1 {
		return Seeded{}, fmt.Errorf("seed: found %d Identity Center instances, want 1", len(inst.Instances))
	}
	s := Seeded{
		InstanceARN:       aws.ToString(inst.Instances[0].InstanceArn),
		IdentityStoreID:   aws.ToString(inst.Instances[0].IdentityStoreId),
		UserIDs:           map[string]string{},
		PermissionSetARNs: map[string]string{},
	}
	// Users are created a few at a time: a test may seed thousands.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 8)
	)
	for _, name := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := ids.CreateUser(ctx, &identitystore.CreateUserInput{
				IdentityStoreId: aws.String(s.IdentityStoreID),
				UserName:        aws.String(name),
				DisplayName:     aws.String(name),
				Name:            &idtypes.Name{GivenName: aws.String(name), FamilyName: aws.String("Test")},
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("seed: create user %q: %w", name, err))
				return
			}
			s.UserIDs[name] = aws.ToString(out.UserId)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Seeded{}, err
	}
	for _, name := range permissionSets {
		out, err := sso.CreatePermissionSet(ctx, &ssoadmin.CreatePermissionSetInput{
			InstanceArn: aws.String(s.InstanceARN),
			Name:        aws.String(name),
			// moto answers a set without SessionDuration in a form the SDK
			// cannot decode.
			SessionDuration: aws.String("PT1H"),
		})
		if err != nil {
			return Seeded{}, fmt.Errorf("seed: create permission set %q: %w", name, err)
		}
		s.PermissionSetARNs[name] = aws.ToString(out.PermissionSet.PermissionSetArn)
	}
	return s, nil
}

// Assignments lists who holds permissionSet (a seeded name) on accountID:
// seeded user names, sorted; any other principal as "TYPE:id" (for example
// "GROUP:g-1" or "USER:unknown-id"). It bypasses cfg's fault injector.
func (s Seeded) Assignments(ctx context.Context, cfg aws.Config, accountID, permissionSet string) ([]string, error) {
	arn, ok := s.PermissionSetARNs[permissionSet]
	if !ok {
		return nil, fmt.Errorf("assignments: permission set %q was not seeded", permissionSet)
	}
	names := map[string]string{}
	for name, id := range s.UserIDs {
		names[id] = name
	}
	list, err := ListAssignments(ctx, cfg, s.InstanceARN, accountID, arn)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, a := range list {
		id := aws.ToString(a.PrincipalId)
		if name, ok := names[id]; ok && a.PrincipalType == types.PrincipalTypeUser {
			out = append(out, name)
			continue
		}
		out = append(out, string(a.PrincipalType)+":"+id)
	}
	sort.Strings(out)
	return out, nil
}

// ListAssignments lists the raw account assignments of one permission set
// ARN on one account, following at most 100 pages. It bypasses cfg's fault
// injector.
func ListAssignments(ctx context.Context, cfg aws.Config, instanceARN, accountID, permissionSetARN string) ([]types.AccountAssignment, error) {
	sso := ssoadmin.NewFromConfig(WithoutFaults(cfg))
	in := &ssoadmin.ListAccountAssignmentsInput{
		InstanceArn:      aws.String(instanceARN),
		AccountId:        aws.String(accountID),
		PermissionSetArn: aws.String(permissionSetARN),
	}
	var all []types.AccountAssignment
	for range maxPages {
		out, err := sso.ListAccountAssignments(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list assignments of %s on %s: %w", permissionSetARN, accountID, err)
		}
		all = append(all, out.AccountAssignments...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in.NextToken = out.NextToken
	}
	return nil, errors.New("list assignments: more than 100 pages (a duplicate assignment makes moto paginate forever)")
}
