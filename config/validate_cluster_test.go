package config

import "testing"

func TestClusterRules(t *testing.T) {
	shared := []edit{{"cluster.mode", "shared"}, {"records.driver", "postgres"}}
	runRuleCases(t, []ruleCase{
		{name: "unknown mode", edits: []edit{{"cluster.mode", "multi"}}, key: "cluster.mode", message: "is not a cluster mode"},
		{name: "node id with dot", edits: []edit{{"cluster.node_id", "node.a"}}, key: "cluster.node_id", message: "is not a node name"},
		{name: "zero liveness", edits: []edit{{"cluster.liveness_ttl", "0s"}}, key: "cluster.liveness_ttl", message: "must be positive"},
		{name: "huge buffer", edits: []edit{{"cluster.buffer_size", 20000}}, key: "cluster.buffer_size", message: "must be from 0 to 10000"},
		{name: "unknown driver", edits: []edit{{"records.driver", "mysql"}}, key: "records.driver", message: "is not a records driver"},
		{name: "postgres without dsn", edits: []edit{{"records.driver", "postgres"}}, key: "records.postgres.dsn_env", message: "is not set or empty"},
		{name: "shared with sqlite", edits: []edit{{"cluster.mode", "shared"}}, key: "records.driver", message: "must be postgres when cluster.mode is shared"},
		{name: "shared without redis", edits: append(shared, edit{"cluster.redis.addrs", []any{}}), key: "cluster.redis.addrs", message: "must list at least one"},
		{name: "bad redis address", edits: append(shared, edit{"cluster.redis.addrs", []any{"redis"}}), key: "cluster.redis.addrs.0", message: "is not host:port"},
		{name: "shared without node sources", edits: append(shared, edit{"cluster.node_sources", []any{}}), key: "cluster.node_sources", message: "must list the networks of the other nodes"},
		{name: "redis port too large", edits: append(shared, edit{"cluster.redis.addrs", []any{"127.0.0.1:99999"}}), key: "cluster.redis.addrs.0", message: "has no valid port"},
		{name: "cert without key", edits: append(shared, edit{"cluster.redis.tls.cert_file", "c.pem"}), key: "cluster.redis.tls.cert_file", message: "must be set together"},
	})
}

func TestSharedModeReadsSecretsFromEnvironment(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "cluster.mode", "shared")
	setPath(t, tree, "records.driver", "postgres")
	setPath(t, tree, "cluster.redis.master_name", "helpline")
	setPath(t, tree, "cluster.redis.addrs", []any{"127.0.0.1:26379", "127.0.0.1:26380"})
	cfg, err := loadTree(t, tree, []string{
		"HELPLINE_RECORDS_DSN=postgres://h@127.0.0.1:5432/h",
		"HELPLINE_REDIS_PASSWORD=redis-secret",
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !cfg.Shared() {
		t.Errorf("Shared() = false, want true")
	}
	if cfg.Records.Postgres.DSN != "postgres://h@127.0.0.1:5432/h" || cfg.Cluster.Redis.Password != "redis-secret" {
		t.Errorf("secrets not read: dsn %q, password set %v", cfg.Records.Postgres.DSN, cfg.Cluster.Redis.Password != "")
	}
}

func TestSharedSecretVariablesNotUnknown(t *testing.T) {
	tree := exampleTree(t)
	setPath(t, tree, "cluster.mode", "shared")
	setPath(t, tree, "records.driver", "postgres")
	cfg, err := loadTree(t, tree, []string{
		"HELPLINE_RECORDS_DSN=postgres://h@127.0.0.1:5432/h",
		"HELPLINE_REDIS_PASSWORD=redis-secret",
		"HELPLINE_REDIS_SENTINEL_PASSWORD=sentinel-secret",
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, w := range cfg.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
}
