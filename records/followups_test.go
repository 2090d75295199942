package records

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// saveTask saves a wrap-up of a new call with the given risk, follow-up
// and district, and returns the task id.
func saveTask(t *testing.T, store *Store, callID string, risk Risk, kind FollowUpKind, due, district string) string {
	t.Helper()
	startCall(t, store, callID, "01012345678", "1001", testTime(0))
	w := WrapUp{CallID: callID, Reporter: ReporterSelf, IsolationScore: 2, Risk: risk, FollowUp: kind, DueDate: due, District: district}
	saved, err := store.SaveWrapUp(context.Background(), w, false)
	if err != nil {
		t.Fatalf("SaveWrapUp %s: %v", callID, err)
	}
	return saved.FollowUpID
}

func TestFollowUpAssignNoteClose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		id := saveTask(t, store, "call-1", RiskLow, FollowUpCounseling, futureDate, "Jung-gu")

		task, err := store.AssignFollowUp(ctx, id, "lee")
		if err != nil || task.Owner != "lee" {
			t.Fatalf("AssignFollowUp = %+v, %v; want owner lee", task, err)
		}
		if _, err := store.AddFollowUpNote(ctx, id, "lee", "Called, no answer."); err != nil {
			t.Fatalf("first AddFollowUpNote: %v", err)
		}
		task, err = store.AddFollowUpNote(ctx, id, "park", "Visit booked.")
		if err != nil {
			t.Fatalf("second AddFollowUpNote: %v", err)
		}
		lines := strings.Split(task.Notes, "\n")
		if len(lines) != 2 || !strings.HasSuffix(lines[0], " lee: Called, no answer.") || !strings.HasSuffix(lines[1], " park: Visit booked.") {
			t.Errorf("notes = %q, want two lines with time and user", task.Notes)
		}
		if _, err := time.ParseInLocation(noteTimeLayout, lines[0][:len(noteTimeLayout)], time.Local); err != nil {
			t.Errorf("note line %q does not start with the time: %v", lines[0], err)
		}

		task, err = store.CloseFollowUp(ctx, id, "visited, referred to the district office")
		if err != nil {
			t.Fatalf("CloseFollowUp: %v", err)
		}
		if task.State != FollowUpClosed || task.Outcome != "visited, referred to the district office" || task.ClosedAt.IsZero() {
			t.Errorf("closed task = %+v, want state closed, the outcome and a time", task)
		}

		changes := map[string]func() error{
			"assign": func() error { _, err := store.AssignFollowUp(ctx, id, "kim"); return err },
			"note":   func() error { _, err := store.AddFollowUpNote(ctx, id, "kim", "late"); return err },
			"close":  func() error { _, err := store.CloseFollowUp(ctx, id, "again"); return err },
		}
		for name, change := range changes {
			if err := change(); !errors.Is(err, ErrFollowUpClosed) {
				t.Errorf("%s on a closed task: %v, want ErrFollowUpClosed", name, err)
			}
		}
		after, err := store.GetFollowUp(ctx, id)
		if err != nil {
			t.Fatalf("GetFollowUp: %v", err)
		}
		if after.Owner != "lee" || after.Notes != task.Notes || after.Outcome != task.Outcome {
			t.Errorf("closed task changed: %+v", after)
		}
	})
}

func TestFollowUpChangesRejectBadInput(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		id := saveTask(t, store, "call-1", RiskLow, FollowUpCounseling, futureDate, "Jung-gu")

		tests := []struct {
			name   string
			change func() error
			field  string
		}{
			{"empty owner", func() error { _, err := store.AssignFollowUp(ctx, id, ""); return err }, "owner"},
			{"owner too long", func() error {
				_, err := store.AssignFollowUp(ctx, id, strings.Repeat("x", MaxOwnerLength+1))
				return err
			}, "owner"},
			{"empty note", func() error { _, err := store.AddFollowUpNote(ctx, id, "lee", "  "); return err }, "note"},
			{"note too long", func() error {
				_, err := store.AddFollowUpNote(ctx, id, "lee", strings.Repeat("x", MaxNotesLength+1))
				return err
			}, "note"},
			{"empty outcome", func() error { _, err := store.CloseFollowUp(ctx, id, ""); return err }, "outcome"},
			{"outcome too long", func() error {
				_, err := store.CloseFollowUp(ctx, id, strings.Repeat("x", MaxOutcomeLength+1))
				return err
			}, "outcome"},
		}
		for _, tt := range tests {
			var fieldErr *FieldError
			if err := tt.change(); !errors.As(err, &fieldErr) || fieldErr.Field != tt.field {
				t.Errorf("%s: error = %v, want a FieldError for %q", tt.name, err, tt.field)
			}
		}
		task, err := store.GetFollowUp(ctx, id)
		if err != nil {
			t.Fatalf("GetFollowUp: %v", err)
		}
		if task.Owner != "" || task.Notes != "" || task.State != FollowUpOpen {
			t.Errorf("task after rejected changes = %+v, want it unchanged", task)
		}

		if _, err := store.AssignFollowUp(ctx, "fu-none", "lee"); !errors.Is(err, ErrFollowUpNotFound) {
			t.Errorf("AssignFollowUp of an unknown task: %v, want ErrFollowUpNotFound", err)
		}
		if _, err := store.GetFollowUp(ctx, "fu-none"); !errors.Is(err, ErrFollowUpNotFound) {
			t.Errorf("GetFollowUp of an unknown task: %v, want ErrFollowUpNotFound", err)
		}
		if _, err := store.RevealFollowUpNumber(ctx, "fu-none"); !errors.Is(err, ErrFollowUpNotFound) {
			t.Errorf("RevealFollowUpNumber of an unknown task: %v, want ErrFollowUpNotFound", err)
		}
	})
}

func TestListFollowUpsOrderAndFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		low := saveTask(t, store, "low", RiskLow, FollowUpCounseling, "2099-01-01", "Jung-gu")
		imminentLate := saveTask(t, store, "imminent-late", RiskImminent, FollowUpEmergency, "2099-06-01", "Mapo-gu")
		imminentSoon := saveTask(t, store, "imminent-soon", RiskImminent, FollowUpHomeVisit, "2099-02-01", "Mapo-gu")
		medium := saveTask(t, store, "medium", RiskMedium, FollowUpHomeVisit, "2099-01-01", "Mapo-gu")
		startCall(t, store, "cut-off", "01055556666", "", time.Time{})
		if _, err := store.MarkInterrupted(ctx, testTime(time.Hour)); err != nil {
			t.Fatalf("MarkInterrupted: %v", err)
		}

		all := listAll(t, store)
		var ids []string
		for _, task := range all {
			ids = append(ids, task.ID)
		}
		if len(ids) != 5 || ids[0] != imminentSoon || ids[1] != imminentLate || ids[2] != medium || ids[4] != low {
			t.Errorf("order = %v, want imminent by due date, medium, the unjudged interrupted task, low", ids)
		}
		if all[3].Origin != OriginInterrupted || all[3].Risk != RiskUnknown {
			t.Errorf("fourth task = %+v, want the unjudged interrupted task", all[3])
		}

		filters := []struct {
			name   string
			filter FollowUpFilter
			want   []string
		}{
			{"kind", FollowUpFilter{Kind: FollowUpHomeVisit}, []string{imminentSoon, medium}},
			{"district", FollowUpFilter{District: "Jung-gu"}, []string{low}},
			{"risk", FollowUpFilter{Risk: RiskImminent}, []string{imminentSoon, imminentLate}},
			{"due before", FollowUpFilter{DueBefore: "2099-02-01", Kind: FollowUpHomeVisit}, []string{medium}},
			{"closed", FollowUpFilter{State: FollowUpClosed}, nil},
		}
		for _, f := range filters {
			list, err := store.ListFollowUps(ctx, f.filter)
			if err != nil {
				t.Errorf("%s: ListFollowUps: %v", f.name, err)
				continue
			}
			var got []string
			for _, task := range list {
				got = append(got, task.ID)
			}
			if !slices.Equal(got, f.want) {
				t.Errorf("%s: ids = %v, want %v", f.name, got, f.want)
			}
		}

		bad := []struct {
			filter FollowUpFilter
			field  string
		}{
			{FollowUpFilter{State: "pending"}, "state"},
			{FollowUpFilter{Kind: "visit"}, "kind"},
			{FollowUpFilter{Risk: "severe"}, "risk"},
			{FollowUpFilter{DueBefore: "tomorrow"}, "due_before"},
		}
		for _, b := range bad {
			var fieldErr *FieldError
			if _, err := store.ListFollowUps(ctx, b.filter); !errors.As(err, &fieldErr) || fieldErr.Field != b.field {
				t.Errorf("filter %+v: error = %v, want a FieldError for %q", b.filter, err, b.field)
			}
		}
	})
}

func TestListFollowUpsOfCaller(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		mine := saveTask(t, store, "mine", RiskLow, FollowUpCounseling, futureDate, "Jung-gu")
		startCall(t, store, "theirs", "01099998888", "1001", testTime(0))
		if _, err := store.SaveWrapUp(ctx, homeVisit("theirs"), false); err != nil {
			t.Fatalf("SaveWrapUp: %v", err)
		}
		rec, err := store.Get(ctx, "mine")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		list, err := store.ListFollowUps(ctx, FollowUpFilter{CallerHash: rec.CallerHash, State: FollowUpOpen})
		if err != nil || len(list) != 1 || list[0].ID != mine {
			t.Errorf("tasks of the caller = %+v, %v; want %s alone", list, err, mine)
		}
	})
}

func TestCallbackMirroredAsFollowUp(t *testing.T) {
	tests := []struct {
		name        string
		state       CallbackState
		wantState   FollowUpState
		wantOutcome string
		wantNote    string
	}{
		{"completed", CallbackCompleted, FollowUpClosed, OutcomeCallbackCompleted, ""},
		{"cancelled", CallbackCancelled, FollowUpClosed, OutcomeCallbackCancelled, ""},
		{"failed", CallbackFailed, FollowUpOpen, "", "server: callback failed: attempts used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db testDB) {
				ctx := context.Background()
				store := db.openStore(t, testKey(t, 1))
				cb := Callback{TaskID: "cb-1", CallID: "call-1", Queue: "q", Reason: "high_risk", State: CallbackPending,
					Number: "01077778888", EnqueuedAt: testTime(0), CreatedAt: testTime(0)}
				if err := store.CreateCallback(ctx, cb); err != nil {
					t.Fatalf("CreateCallback: %v", err)
				}
				if err := store.CreateCallback(ctx, cb); !errors.Is(err, ErrCallbackExists) {
					t.Fatalf("second CreateCallback: %v, want ErrCallbackExists", err)
				}
				tasks := listAll(t, store)
				if len(tasks) != 1 {
					t.Fatalf("follow-ups = %+v, want one", tasks)
				}
				task := tasks[0]
				if task.Kind != FollowUpCallback || task.Origin != OriginServerCallback || task.CallbackID != "cb-1" ||
					task.Risk != RiskHigh || task.State != FollowUpOpen || task.DueDate == "" {
					t.Errorf("task = %+v, want an open high-risk callback task due today", task)
				}
				if number, err := store.RevealFollowUpNumber(ctx, task.ID); err != nil || number != "01077778888" {
					t.Errorf("RevealFollowUpNumber = %q, %v; want the callback's number", number, err)
				}

				if err := store.SetCallbackState(ctx, "cb-1", tt.state, "attempts used", testTime(time.Minute)); err != nil {
					t.Fatalf("SetCallbackState: %v", err)
				}
				got, err := store.GetFollowUp(ctx, task.ID)
				if err != nil {
					t.Fatalf("GetFollowUp: %v", err)
				}
				if got.State != tt.wantState || got.Outcome != tt.wantOutcome {
					t.Errorf("task after %s = state %s outcome %q, want %s %q", tt.state, got.State, got.Outcome, tt.wantState, tt.wantOutcome)
				}
				if !strings.HasSuffix(got.Notes, tt.wantNote) || (tt.wantNote == "") != (got.Notes == "") {
					t.Errorf("notes = %q, want %q", got.Notes, tt.wantNote)
				}
			})
		})
	}
}

func TestCreateCallbackRollsBackTogether(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		db.exec(t, `DROP TABLE followups`)
		cb := Callback{TaskID: "cb-1", CallID: "call-1", Queue: "q", Reason: "requested", State: CallbackPending,
			EnqueuedAt: testTime(0), CreatedAt: testTime(0)}
		if err := store.CreateCallback(ctx, cb); err == nil {
			t.Fatal("CreateCallback without a followups table succeeded")
		}
		list, err := store.ListCallbacks(ctx)
		if err != nil || len(list) != 0 {
			t.Errorf("callbacks after a failed creation = %+v, %v; want none", list, err)
		}
	})
}

func TestMarkInterruptedCreatesFollowUps(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "with-number", "01012345678", "", time.Time{})
		startCall(t, store, "high-risk", "01022223333", "", time.Time{})
		if err := store.Update(ctx, "high-risk", Patch{Priority: new("high_risk")}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := store.Start(ctx, StartInfo{CallID: "withheld", CallerNumber: "01044445555", CallerWithheld: true}); err != nil {
			t.Fatalf("Start withheld: %v", err)
		}
		startCall(t, store, "ended", "01066667777", "1001", testTime(0))

		closed, err := store.MarkInterrupted(ctx, testTime(time.Hour))
		if err != nil || closed != 3 {
			t.Fatalf("MarkInterrupted = %d, %v; want 3", closed, err)
		}
		tasks := listAll(t, store)
		byCall := map[string]FollowUp{}
		for _, task := range tasks {
			byCall[task.CallID] = task
		}
		if len(tasks) != 2 || byCall["with-number"].ID == "" || byCall["high-risk"].ID == "" {
			t.Fatalf("tasks = %+v, want one for each closed call with a number", tasks)
		}
		for _, task := range tasks {
			if task.Kind != FollowUpInterrupted || task.Origin != OriginInterrupted || task.State != FollowUpOpen {
				t.Errorf("task = %+v, want an open interrupted task", task)
			}
		}
		if byCall["high-risk"].Risk != RiskHigh || byCall["with-number"].Risk != RiskUnknown {
			t.Errorf("risks = %q and %q, want high for the high-risk caller and unjudged otherwise",
				byCall["high-risk"].Risk, byCall["with-number"].Risk)
		}

		if again, err := store.MarkInterrupted(ctx, testTime(2*time.Hour)); err != nil || again != 0 {
			t.Errorf("second MarkInterrupted = %d, %v; want 0", again, err)
		}
		if tasks := listAll(t, store); len(tasks) != 2 {
			t.Errorf("tasks after the second run = %d, want 2", len(tasks))
		}
	})
}

func TestMarkNodeInterruptedCreatesFollowUps(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		calls := []StartInfo{
			{CallID: "a-number", Node: "node-a", CallerNumber: "01012345678"},
			{CallID: "a-anonymous", Node: "node-a"},
			{CallID: "b-number", Node: "node-b", CallerNumber: "01099998888"},
		}
		for _, info := range calls {
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}
		if _, err := store.MarkNodeInterrupted(ctx, "node-a", testTime(time.Hour)); err != nil {
			t.Fatalf("MarkNodeInterrupted: %v", err)
		}
		tasks := listAll(t, store)
		if len(tasks) != 1 || tasks[0].CallID != "a-number" || tasks[0].Kind != FollowUpInterrupted {
			t.Errorf("tasks = %+v, want one interrupted task for a-number", tasks)
		}
	})
}

func TestExportFollowUpsCSV(t *testing.T) {
	tasks := []FollowUp{
		{ID: "fu-1", CallID: "call-1", Kind: FollowUpHomeVisit, Origin: OriginWrapUp, Risk: RiskHigh, District: "마포구",
			DueDate: futureDate, State: FollowUpOpen, Number: "01012345678", Notes: "=HYPERLINK(\"x\")", CreatedAt: testTime(0)},
		{ID: "fu-2", CallID: "call-2", Kind: FollowUpInterrupted, Origin: OriginInterrupted, State: FollowUpOpen,
			NumberErr: ErrDecrypt, CreatedAt: testTime(0)},
	}
	tests := []struct {
		name   string
		reveal bool
		number string
	}{
		{"masked", false, "010-****-5678"},
		{"revealed", true, "010-1234-5678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := ExportFollowUpsCSV(&out, tasks, FollowUpCSVOptions{Reveal: tt.reveal}); err != nil {
				t.Fatalf("ExportFollowUpsCSV: %v", err)
			}
			body, found := strings.CutPrefix(out.String(), "\uFEFF")
			if !found {
				t.Fatalf("CSV starts with %q, want the UTF-8 byte order mark", out.String()[:min(8, out.Len())])
			}
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatalf("reading the CSV: %v", err)
			}
			if len(rows) != 3 || !slices.Equal(rows[0], FollowUpCSVHeader) {
				t.Fatalf("rows = %v, want the header and two tasks", rows)
			}
			numberColumn := slices.Index(FollowUpCSVHeader, "number")
			notesColumn := slices.Index(FollowUpCSVHeader, "notes")
			districtColumn := slices.Index(FollowUpCSVHeader, "district")
			if rows[1][numberColumn] != tt.number {
				t.Errorf("number = %q, want %q", rows[1][numberColumn], tt.number)
			}
			if rows[1][districtColumn] != "마포구" {
				t.Errorf("district = %q, want 마포구", rows[1][districtColumn])
			}
			if rows[2][numberColumn] != "undecryptable" {
				t.Errorf("undecryptable number = %q, want undecryptable", rows[2][numberColumn])
			}
			if !strings.HasPrefix(rows[1][notesColumn], "'=") {
				t.Errorf("notes = %q, want the formula escaped", rows[1][notesColumn])
			}
		})
	}
}

func TestExportFollowUpsCSVTranslated(t *testing.T) {
	tasks := []FollowUp{{ID: "fu-1", Kind: FollowUpCallback, State: FollowUpClosed, Outcome: OutcomeCallbackCompleted,
		Notes: "=1+1", CreatedAt: testTime(0)}}
	header := slices.Clone(FollowUpCSVHeader)
	header[0] = "번호"
	translate := func(column, value string) string {
		if column == "state" || column == "notes" {
			return "[" + value + "]"
		}
		return value
	}

	var out bytes.Buffer
	if err := ExportFollowUpsCSV(&out, tasks, FollowUpCSVOptions{Header: header, Translate: translate}); err != nil {
		t.Fatalf("ExportFollowUpsCSV: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out.String(), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV: %v", err)
	}
	if len(rows) != 2 || rows[0][0] != "번호" {
		t.Fatalf("rows = %v, want the translated header and one task", rows)
	}
	if got := rows[1][slices.Index(FollowUpCSVHeader, "state")]; got != "[closed]" {
		t.Errorf("state = %q, want the translated [closed]", got)
	}
	if got := rows[1][slices.Index(FollowUpCSVHeader, "notes")]; got != "[=1+1]" {
		t.Errorf("notes = %q, want the translated value", got)
	}
	if got := rows[1][slices.Index(FollowUpCSVHeader, "kind")]; got != "callback" {
		t.Errorf("kind = %q, want callback untouched", got)
	}

	if err := ExportFollowUpsCSV(&out, tasks, FollowUpCSVOptions{Header: []string{"one"}}); err == nil {
		t.Error("ExportFollowUpsCSV with a one-column header succeeded, want an error")
	}
}
