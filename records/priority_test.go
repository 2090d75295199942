package records

import (
	"context"
	"testing"
)

func TestUpdateStoresPriority(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		if err := store.Start(ctx, StartInfo{CallID: "urgent", StartedAt: testTime(0)}); err != nil {
			t.Fatalf("Start: %v", err)
		}

		before, err := store.Get(ctx, "urgent")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if before.Priority != "" {
			t.Errorf("priority of a new record = %q, want empty", before.Priority)
		}

		highRisk := "high_risk"
		if err := store.Update(ctx, "urgent", Patch{Priority: &highRisk}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		after, err := store.Get(ctx, "urgent")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if after.Priority != highRisk {
			t.Errorf("priority = %q, want %q", after.Priority, highRisk)
		}
	})
}
