package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpline/config"
	"helpline/internal/pgtest"
	"helpline/records"
)

func TestCloseNodeRecordsMarksOwnNode(t *testing.T) {
	cfg := &config.Config{}
	cfg.Cluster.Mode = config.ClusterShared
	cfg.Cluster.NodeID = "node-a"
	cfg.Records.Driver = config.RecordsPostgres
	cfg.Records.Postgres.DSN = pgtest.NewDatabase(t)
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()

	store, err := openRecordsStore(ctx, cfg, records.DemoKey(), false)
	if err != nil {
		t.Fatalf("openRecordsStore: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	for _, info := range []records.StartInfo{{CallID: "own", Node: "node-a"}, {CallID: "other", Node: "node-b"}} {
		if err := store.Start(ctx, info); err != nil {
			t.Fatalf("Start %s: %v", info.CallID, err)
		}
	}

	calls, err := closeNodeRecords(ctx, store, "node-a", time.Now())
	if err != nil || len(calls) != 1 || calls[0].CallID != "own" {
		t.Fatalf("closeNodeRecords = %+v, %v; want the call \"own\" alone", calls, err)
	}

	own, err := store.Get(ctx, "own")
	if err != nil {
		t.Fatalf("Get own: %v", err)
	}
	if own.Outcome != records.OutcomeInterrupted {
		t.Errorf("this node's open call: Outcome = %q, want interrupted", own.Outcome)
	}
	other, err := store.Get(ctx, "other")
	if err != nil {
		t.Fatalf("Get other: %v", err)
	}
	if other.Outcome != "" || !other.EndedAt.IsZero() {
		t.Errorf("another node's call: Outcome = %q, EndedAt = %v; want it still open", other.Outcome, other.EndedAt)
	}
}

func TestOpenRecordsStoreReadingNeedsSQLiteFile(t *testing.T) {
	cfg := &config.Config{}
	cfg.Records.Driver = config.RecordsSQLite
	cfg.Records.DataDir = filepath.Join(t.TempDir(), "missing")
	cfg.Records.File = "records.db"

	_, err := openRecordsStore(context.Background(), cfg, records.DemoKey(), true)
	if err == nil || !strings.Contains(err.Error(), "no records database") {
		t.Errorf("openRecordsStore of a missing file for reading: error = %v, want no records database", err)
	}
}
