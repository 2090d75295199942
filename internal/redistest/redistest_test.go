package redistest

import (
	"context"
	"testing"
)

func TestStartAnswersCommands(t *testing.T) {
	srv := Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "{helpline}:probe", "1", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(ctx, "{helpline}:probe").Result()
	if err != nil || got != "1" {
		t.Fatalf("GET = %q, %v; want \"1\"", got, err)
	}
}
