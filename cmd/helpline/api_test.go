package main

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/counselor"
	"helpline/queue"
)

func TestAPIServesAndStops(t *testing.T) {
	cfg := &config.Config{API: config.API{
		Listen:  "127.0.0.1:0",
		Token:   "t0ken",
		Address: netip.MustParseAddrPort("127.0.0.1:0"),
	}}
	store := queue.NewMemoryStore()
	if err := store.AddCounselor(context.Background(), "1001", time.Now()); err != nil {
		t.Fatalf("AddCounselor: %v", err)
	}
	states := counselor.New(counselor.Config{Store: store})

	server, err := startAPI(cfg, newAPI(cfg, states, zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatalf("startAPI: %v", err)
	}
	url := "http://" + server.listener.Addr().String() + "/api/v1/counselors"
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", res.StatusCode)
	}

	server.stop()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Error("the API still answers after stop")
	}
}

func TestAPIOffStartsNothing(t *testing.T) {
	cfg := &config.Config{}

	server, err := startAPI(cfg, newAPI(cfg, nil, zerolog.Nop()), zerolog.Nop())

	if err != nil || server != nil {
		t.Errorf("startAPI with the API off = %v, %v, want nothing started", server, err)
	}
	server.stop()
}

func TestDemoTokenWarns(t *testing.T) {
	var out bytes.Buffer
	cfg := &config.Config{API: config.API{TokenEnv: "HELPLINE_API_TOKEN", UsesDemoToken: true}}

	warnAboutConfig(cfg, zerolog.New(&out))

	if !strings.Contains(out.String(), "demo token") || !strings.Contains(out.String(), "HELPLINE_API_TOKEN") {
		t.Errorf("log %q lacks a warning about the demo token that names HELPLINE_API_TOKEN", out.String())
	}
}
