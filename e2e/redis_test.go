package e2e

import (
	"context"
	"testing"
	"time"
)

// The sentinels promote the replica after the primary is killed, and a
// client that follows the sentinels reads what it wrote before.
func TestSentinelSetFailsOver(t *testing.T) {
	t.Parallel()
	set := StartSentinelSet(t)
	client := set.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), FailoverTimeout)
	defer cancel()

	if err := client.Set(ctx, "{helpline}:probe", "before", 0).Err(); err != nil {
		t.Fatalf("SET through the sentinels: %v", err)
	}
	set.WaitReplicaCaughtUp(t)

	oldAddr, newAddr := set.KillPrimary(t)
	if newAddr == oldAddr {
		t.Fatalf("primary is still %s after the failover", oldAddr)
	}
	if newAddr != set.Servers[1].Addr {
		t.Errorf("new primary = %s, want the replica %s", newAddr, set.Servers[1].Addr)
	}

	got, err := client.Get(ctx, "{helpline}:probe").Result()
	if err != nil {
		t.Fatalf("GET after the failover: %v", err)
	}
	if got != "before" {
		t.Errorf("GET after the failover = %q, want %q", got, "before")
	}
	if err := client.Set(ctx, "{helpline}:probe", "after", time.Minute).Err(); err != nil {
		t.Errorf("SET on the new primary: %v", err)
	}
}
