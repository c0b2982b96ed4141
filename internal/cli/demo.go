package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/countercyclical/webhooks/db"
	"github.com/countercyclical/webhooks/internal/auth"
)

// demo seeds a workspace to try the API on: a user of each role, a team, a
// few resources of each type (whose inserts are captured like any other),
// and an API key per user.
func (c *command) demo(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return usageError{"demo takes no arguments"}
	}
	pool, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()

	type member struct{ role, name, key, id string }
	members := []*member{{role: "owner", name: "Olivia Owner"}, {role: "admin", name: "Adam Admin"}, {role: "member", name: "Maya Member"}, {role: "guest", name: "Gus Guest"}}
	var workspace db.Workspace
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New()
		var err error
		if workspace, err = q.WorkspaceInsert(ctx, tx, "Demo Capital"); err != nil {
			return fmt.Errorf("error creating workspace: %w", err)
		}
		domain := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(workspace.ID)) + ".demo.example"
		for _, m := range members {
			name := m.name
			user, err := q.UserInsert(ctx, tx, db.UserInsertParams{Email: m.role + "@" + domain, Name: &name})
			if err != nil {
				return fmt.Errorf("error creating user: %w", err)
			}
			m.id = user.ID
			if _, err := q.WorkspaceMemberUpsert(ctx, tx, db.WorkspaceMemberUpsertParams{WorkspaceID: workspace.ID, UserID: user.ID, Role: m.role}); err != nil {
				return fmt.Errorf("error adding member: %w", err)
			}
			if m.key, _, _, err = auth.CreateAPIKey(ctx, tx, workspace.ID, user.ID, "demo"); err != nil {
				return err
			}
		}
		owner, maya := members[0].id, members[2].id
		desc := "Sourcing and diligence"
		team, err := q.TeamInsert(ctx, tx, db.TeamInsertParams{WorkspaceID: workspace.ID, Name: "Deal Team", Description: &desc})
		if err != nil {
			return fmt.Errorf("error creating team: %w", err)
		}
		if err := q.TeamMemberInsert(ctx, tx, db.TeamMemberInsertParams{TeamID: team.ID, UserID: maya}); err != nil {
			return fmt.Errorf("error adding team member: %w", err)
		}
		for _, r := range []struct {
			name, ticker, visibility, by string
			team                         *string
		}{
			{"Coca-Cola Co", "KO", "Workspace", owner, nil},
			{"PepsiCo Inc", "PEP", "Team", owner, &team.ID},
			{"Monster Beverage", "MNST", "Private", maya, nil},
		} {
			ticker := r.ticker
			inv, err := q.InvestmentInsert(ctx, tx, db.InvestmentInsertParams{WorkspaceID: workspace.ID, CreatedBy: r.by, Name: r.name, TickerSymbol: &ticker, Visibility: r.visibility, TeamID: r.team})
			if err != nil {
				return fmt.Errorf("error creating investment: %w", err)
			}
			method, currency, value := "DCF", "USD", 61.5
			val, err := q.ValuationInsert(ctx, tx, db.ValuationInsertParams{WorkspaceID: workspace.ID, CreatedBy: r.by, InvestmentID: inv.ID, Name: r.ticker + " base case", Method: &method, Currency: &currency, Value: &value, Visibility: r.visibility, TeamID: r.team})
			if err != nil {
				return fmt.Errorf("error creating valuation: %w", err)
			}
			body := "Why we like " + r.name + "."
			if _, err := q.MemoInsert(ctx, tx, db.MemoInsertParams{WorkspaceID: workspace.ID, CreatedBy: r.by, InvestmentID: inv.ID, Title: r.ticker + " thesis", Body: &body, Visibility: r.visibility, TeamID: r.team}); err != nil {
				return fmt.Errorf("error creating memo: %w", err)
			}
			growth, unit := 0.04, "ratio"
			if _, err := q.AssumptionInsert(ctx, tx, db.AssumptionInsertParams{WorkspaceID: workspace.ID, CreatedBy: r.by, ValuationID: val.ID, Name: "terminal growth", Value: &growth, Unit: &unit, Visibility: r.visibility, TeamID: r.team}); err != nil {
				return fmt.Errorf("error creating assumption: %w", err)
			}
		}
		if _, err := q.PipelineInsert(ctx, tx, db.PipelineInsertParams{WorkspaceID: workspace.ID, CreatedBy: owner, Name: "Beverages 2025", Stages: []string{"Sourced", "Diligence", "IC", "Closed"}, Visibility: "Workspace"}); err != nil {
			return fmt.Errorf("error creating pipeline: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(c.stdout, "Demo workspace %q (%s): a team, 3 investments with a valuation, memo and assumption each, a pipeline.\n\n", workspace.Name, workspace.ID)
	for _, m := range members {
		fmt.Fprintf(c.stdout, "  %-7s %-13s user %s  API key %s\n", m.role, m.name, m.id, m.key)
	}
	fmt.Fprintf(c.stdout, "\nTry:\n  curl -s -H 'Authorization: Bearer %s' http://%s/v1/event-types\n", members[0].key, c.addr())
	return nil
}
