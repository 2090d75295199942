package cluster

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"helpline/config"
)

// maxNodeIDLength bounds a node ID taken from the host name, so that keys
// and log lines stay short.
const maxNodeIDLength = 63

// NodeID returns this node's ID: cluster.node_id, or else the host name
// with every character other than letters, digits, '-' and '_' replaced by
// '-' and cut to 63 characters. The configuration has checked node_id
// already.
func NodeID(cfg config.Cluster) (string, error) {
	if cfg.NodeID != "" {
		return cfg.NodeID, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("cluster.node_id is empty and the host name cannot be read: %w: set cluster.node_id", err)
	}
	id := sanitizeNodeID(host)
	if id == "" {
		return "", errors.New("cluster.node_id is empty and the host name is empty: set cluster.node_id")
	}
	return id, nil
}

// sanitizeNodeID maps name onto the characters a node ID may have.
func sanitizeNodeID(name string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		default:
			return '-'
		}
	}, name)
	if len(id) > maxNodeIDLength {
		id = id[:maxNodeIDLength]
	}
	return id
}
