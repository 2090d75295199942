package records

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden export files in testdata")

// exportRecords covers the cases an export must render: a full answered
// call, a withheld caller, an undecryptable number, a transfer, a call still
// in progress, and a caller-controlled number that looks like a formula.
func exportRecords() []Record {
	start := time.Date(2026, time.March, 1, 9, 15, 2, 250_000_000, time.UTC)
	at := func(offset time.Duration) time.Time { return start.Add(offset) }
	return []Record{
		{
			CallID: "a84b4c76e66710@trunk", Source: "203.0.113.10:5060", CalledNumber: "120",
			CallerNumber: "+82 10-1234-5678", CallerHash: "6f1ed002ab5595859014ebf0951522d9",
			StartedAt: at(0), AnsweredAt: at(time.Second), QueuedAt: at(20 * time.Second),
			CounselorAnsweredAt: at(45 * time.Second), EndedAt: at(10 * time.Minute),
			Digits: "12", Language: "ko", CallerType: "self", Queue: "general", Counselor: "counselor-7",
			QueueWait: 25*time.Second + 1234567*time.Nanosecond,
			Outcome:   OutcomeAnswered, HangupSide: SideCaller, HangupReason: "BYE", Priority: "high_risk",
			UpdatedAt: at(10 * time.Minute), Node: "node-a",
		},
		{
			CallID: "withheld-1@trunk", Source: "203.0.113.10:5060", CalledNumber: "120",
			CallerWithheld: true,
			StartedAt:      at(time.Hour), AnsweredAt: at(time.Hour + time.Second), EndedAt: at(time.Hour + 30*time.Second),
			Digits: "9", Language: "en", Outcome: OutcomeAbandonedInIVR, HangupSide: SideCaller, HangupReason: "BYE",
			UpdatedAt: at(time.Hour + 30*time.Second),
		},
		{
			CallID: "old-key@trunk", Source: "203.0.113.10:5060", CalledNumber: "120",
			CallerHash:      "9a0c1d2e3f405162738495a6b7c8d9e0",
			CallerNumberErr: fmt.Errorf("%w of call old-key@trunk: the records key differs", ErrDecrypt),
			StartedAt:       at(2 * time.Hour), EndedAt: at(2*time.Hour + time.Minute),
			Outcome: OutcomeInterrupted, HangupSide: SideServer, HangupReason: "server restarted",
			UpdatedAt: at(3 * time.Hour),
		},
		{
			CallID: "transfer@trunk", Source: "203.0.113.11:5060", CalledNumber: "120",
			CallerNumber: "0212345678", CallerHash: "5e1f0aa7c3d94b2e8f6a1b0c9d8e7f60",
			StartedAt: at(4 * time.Hour), AnsweredAt: at(4*time.Hour + time.Second), EndedAt: at(4*time.Hour + 40*time.Second),
			Digits: "0", Language: "ko", TransferTarget: "sip:general@192.0.2.1",
			Outcome: OutcomeTransferred, HangupSide: SideServer, HangupReason: "transferred, \"REFER\" accepted",
			UpdatedAt: at(4*time.Hour + 40*time.Second),
		},
		{
			CallID: "in-progress@trunk", Source: "203.0.113.10:5060", CalledNumber: "120",
			CallerNumber: "=HYPERLINK(\"http://example.invalid\")", StartedAt: at(5 * time.Hour),
			UpdatedAt: at(5 * time.Hour),
		},
	}
}

// useLocalZone sets the local time zone, which exports write their times
// in, for one test. The tests of this package do not run in parallel.
func useLocalZone(t *testing.T, zone *time.Location) {
	t.Helper()
	saved := time.Local
	time.Local = zone
	t.Cleanup(func() { time.Local = saved })
}

func TestExportTimesInLocalZone(t *testing.T) {
	useLocalZone(t, time.FixedZone("KST", 9*60*60))
	started := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	var out bytes.Buffer
	if err := Export(&out, []Record{{CallID: "a", StartedAt: started, UpdatedAt: started}}, FormatJSONL, false); err != nil {
		t.Fatalf("Export: %v", err)
	}
	if !strings.Contains(out.String(), `"started_at":"2026-12-05T18:30:00.000+09:00"`) {
		t.Errorf("export = %s, want started_at in Seoul time with +09:00", out.String())
	}
}

func TestExportGolden(t *testing.T) {
	useLocalZone(t, time.UTC)
	tests := []struct {
		name   string
		format string
		reveal bool
		golden string
	}{
		{"jsonl masked", FormatJSONL, false, "export_masked.jsonl"},
		{"jsonl revealed", FormatJSONL, true, "export_revealed.jsonl"},
		{"csv masked", FormatCSV, false, "export_masked.csv"},
		{"csv revealed", FormatCSV, true, "export_revealed.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Export(&out, exportRecords(), tt.format, tt.reveal); err != nil {
				t.Fatalf("Export: %v", err)
			}
			compareGolden(t, filepath.Join("testdata", tt.golden), out.Bytes())
		})
	}
}

// compareGolden compares got with the golden file, or rewrites the file
// when the test runs with -update.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("export differs from %s (run with -update after checking the change)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestExportMasksNumbers(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Export(&out, exportRecords(), format, false); err != nil {
				t.Fatalf("Export: %v", err)
			}
			for _, number := range []string{"1234-5678", "12345678", "0212345678", "HYPERLINK"} {
				if strings.Contains(out.String(), number) {
					t.Errorf("masked export contains %q", number)
				}
			}
		})
	}
}

func TestExportCSVEscapesFormulas(t *testing.T) {
	var out bytes.Buffer
	if err := Export(&out, exportRecords(), FormatCSV, true); err != nil {
		t.Fatalf("Export: %v", err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("read exported CSV: %v", err)
	}

	tests := []struct {
		name string
		row  int
		want string
	}{
		{"international number", 1, "'+82 10-1234-5678"},
		{"formula", 5, "'=HYPERLINK(\"http://example.invalid\")"},
		{"plain number", 4, "0212345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rows[tt.row][3]; got != tt.want {
				t.Errorf("caller_number cell = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExportHeaderMatchesJSONKeys(t *testing.T) {
	encoded, err := json.Marshal(exportRow{})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(encoded))
	var keys []string
	if _, err := decoder.Token(); err != nil {
		t.Fatalf("read JSON: %v", err)
	}
	for decoder.More() {
		key, err := decoder.Token()
		if err != nil {
			t.Fatalf("read key: %v", err)
		}
		keys = append(keys, key.(string))
		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			t.Fatalf("read value: %v", err)
		}
	}

	if strings.Join(keys, ",") != strings.Join(csvHeader, ",") {
		t.Errorf("JSON keys %v differ from CSV header %v", keys, csvHeader)
	}
	if cells := (exportRow{}).csvCells(); len(cells) != len(csvHeader) {
		t.Errorf("csvCells returns %d cells, header has %d", len(cells), len(csvHeader))
	}
}

func TestExportUnknownFormat(t *testing.T) {
	err := Export(&bytes.Buffer{}, exportRecords(), "xml", false)
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("error = %v, want ErrUnknownFormat", err)
	}
	for _, text := range []string{`"xml"`, "jsonl", "csv"} {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("error %q does not mention %s", err, text)
		}
	}
}

// failingWriter fails every write.
type failingWriter struct{}

var errWriteFailed = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWriteFailed }

func TestExportWriteError(t *testing.T) {
	for _, format := range []string{FormatJSONL, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			if err := Export(failingWriter{}, exportRecords(), format, false); !errors.Is(err, errWriteFailed) {
				t.Errorf("error = %v, want the write error", err)
			}
		})
	}
}

func TestExportEmpty(t *testing.T) {
	tests := []struct {
		format string
		want   string
	}{
		{FormatJSONL, ""},
		{FormatCSV, strings.Join(csvHeader, ",") + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Export(&out, nil, tt.format, false); err != nil {
				t.Fatalf("Export: %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("export of no records = %q, want %q", out.String(), tt.want)
			}
		})
	}
}
