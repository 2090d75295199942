package harness

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestCountCPUList(t *testing.T) {
	cases := []struct {
		name string
		list string
		want int
	}{
		{name: "one CPU", list: "0", want: 1},
		{name: "range", list: "0-1", want: 2},
		{name: "ranges and singles", list: "0-3,6,8-9", want: 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := countCPUList(c.list)
			if err != nil {
				t.Fatalf("countCPUList(%q): %v", c.list, err)
			}
			if got != c.want {
				t.Errorf("countCPUList(%q) = %d, want %d", c.list, got, c.want)
			}
		})
	}
}

func TestCountCPUListRejectsBadList(t *testing.T) {
	for _, list := range []string{"", "a", "3-1", "0-x"} {
		if _, err := countCPUList(list); err == nil {
			t.Errorf("countCPUList(%q) returned no error", list)
		}
	}
}

func TestPinningCommands(t *testing.T) {
	pinned := Pinning{Enabled: true, Server: ServerCPU, Load: LoadCPU}
	server := pinned.ServerCommand("helpline", "serve")
	if want := []string{"taskset", "-c", "1", "helpline", "serve"}; !slices.Equal(server.Args, want) {
		t.Errorf("server command = %v, want %v", server.Args, want)
	}
	load := pinned.LoadCommand("sipp", "-m", "1")
	if want := []string{"taskset", "-c", "0", "sipp", "-m", "1"}; !slices.Equal(load.Args, want) {
		t.Errorf("load command = %v, want %v", load.Args, want)
	}

	unpinned := Pinning{}
	if got := unpinned.ServerCommand("helpline", "serve").Args; !slices.Equal(got, []string{"helpline", "serve"}) {
		t.Errorf("unpinned server command = %v, want helpline serve", got)
	}
}

func TestPercentile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		p    float64
		want float64
	}{{50, 5}, {95, 10}, {10, 1}, {0, 1}, {100, 10}}
	for _, c := range cases {
		if got := Percentile(sorted, c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 95); got != 0 {
		t.Errorf("Percentile of no values = %v, want 0", got)
	}
}

func TestReadSippStat(t *testing.T) {
	var stats SippStats
	if err := readSippStat(filepath.Join("testdata", "stat.csv"), &stats); err != nil {
		t.Fatalf("readSippStat: %v", err)
	}
	if stats.Created != 1200 {
		t.Errorf("created = %d, want 1200", stats.Created)
	}
	if stats.Successful != 1200 {
		t.Errorf("successful = %d, want 1200", stats.Successful)
	}
	if stats.Failed != 0 {
		t.Errorf("failed = %d, want 0", stats.Failed)
	}
}

func TestReadSippRTT(t *testing.T) {
	var stats SippStats
	if err := readSippRTT(filepath.Join("testdata", "rtt"), &stats); err != nil {
		t.Fatalf("readSippRTT: %v", err)
	}
	if stats.ResponseP50 != 20 {
		t.Errorf("p50 = %v ms, want 20", stats.ResponseP50)
	}
	if stats.ResponseP95 != 100 {
		t.Errorf("p95 = %v ms, want 100", stats.ResponseP95)
	}
	if stats.ResponseMax != 100 {
		t.Errorf("max = %v ms, want 100", stats.ResponseMax)
	}
	// INVITEs went out at 90, 130, 195, 210 and 1000 ms: 4 intervals in 0.91 s.
	if want := 4 / 0.91; stats.AchievedRate < want-0.01 || stats.AchievedRate > want+0.01 {
		t.Errorf("achieved rate = %.3f calls/s, want %.3f", stats.AchievedRate, want)
	}
}

func TestFreeEphemeralBlock(t *testing.T) {
	port, err := FreeEphemeralBlock(4)
	if err != nil {
		t.Fatalf("FreeEphemeralBlock(4): %v", err)
	}
	if port%2 != 0 {
		t.Errorf("block starts at odd port %d, want an even port", port)
	}
	if !rangeFree(port, 4) {
		t.Errorf("ports %d-%d are not all free", port, port+3)
	}
}
