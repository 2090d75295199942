package records

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Due dates far from any day the tests run on.
const (
	futureDate = "2099-12-31"
	pastDate   = "2000-01-01"
)

// startCall starts a call from number, taken by counselor, ended at
// endedAt unless it is zero.
func startCall(t *testing.T, store *Store, callID, number, counselor string, endedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := store.Start(ctx, StartInfo{CallID: callID, CallerNumber: number, StartedAt: endedAt.Add(-time.Minute)}); err != nil {
		t.Fatalf("Start %s: %v", callID, err)
	}
	patch := Patch{Counselor: new(counselor)}
	if !endedAt.IsZero() {
		patch.EndedAt = new(endedAt)
		patch.Outcome = new(OutcomeAnswered)
	}
	if err := store.Update(ctx, callID, patch); err != nil {
		t.Fatalf("Update %s: %v", callID, err)
	}
}

// homeVisit returns a valid wrap-up of callID that asks for a home visit.
func homeVisit(callID string) WrapUp {
	return WrapUp{
		CallID: callID, Reporter: ReporterSelf, IsolationScore: 3, Risk: RiskHigh,
		Notes: "Lives alone, no contact with family.", FollowUp: FollowUpHomeVisit,
		DueDate: futureDate, District: "Mapo-gu",
	}
}

// listAll returns every follow-up task.
func listAll(t *testing.T, store *Store) []FollowUp {
	t.Helper()
	list, err := store.ListFollowUps(context.Background(), FollowUpFilter{})
	if err != nil {
		t.Fatalf("ListFollowUps: %v", err)
	}
	return list
}

func TestSaveWrapUpCreatesFollowUp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "call-1", "01012345678", "1001", testTime(0))

		saved, err := store.SaveWrapUp(ctx, homeVisit("call-1"), false)
		if err != nil {
			t.Fatalf("SaveWrapUp: %v", err)
		}
		if saved.Counselor != "1001" || saved.FollowUpID == "" || saved.SavedAt.IsZero() {
			t.Errorf("saved = %+v, want counselor 1001 from the call, a follow-up id and a time", saved)
		}

		got, err := store.GetWrapUp(ctx, "call-1")
		if err != nil {
			t.Fatalf("GetWrapUp: %v", err)
		}
		if got.Notes != homeVisit("").Notes || got.NotesErr != nil {
			t.Errorf("notes = %q (err %v), want the saved notes", got.Notes, got.NotesErr)
		}
		if got.Reporter != ReporterSelf || got.IsolationScore != 3 || got.Risk != RiskHigh || got.FollowUp != FollowUpHomeVisit {
			t.Errorf("wrap-up = %+v, want the saved values", got)
		}
		if got.DueDate != futureDate || got.District != "Mapo-gu" || got.FollowUpID != saved.FollowUpID {
			t.Errorf("wrap-up = %+v, want due date, district and follow-up id kept", got)
		}

		tasks := listAll(t, store)
		if len(tasks) != 1 {
			t.Fatalf("follow-ups = %+v, want one", tasks)
		}
		task := tasks[0]
		if task.ID != saved.FollowUpID || task.Kind != FollowUpHomeVisit || task.Origin != OriginWrapUp || task.State != FollowUpOpen {
			t.Errorf("task = %+v, want the open home_visit task of the wrap-up", task)
		}
		if task.Risk != RiskHigh || task.District != "Mapo-gu" || task.DueDate != futureDate {
			t.Errorf("task = %+v, want risk, district and due date of the wrap-up", task)
		}
		if !strings.HasSuffix(task.Notes, " 1001: "+homeVisit("").Notes) {
			t.Errorf("task notes = %q, want the wrap-up notes as the first line", task.Notes)
		}
		if task.Number != "01012345678" || task.NumberErr != nil {
			t.Errorf("task number = %q (err %v), want the call's number", task.Number, task.NumberErr)
		}
		number, err := store.RevealFollowUpNumber(ctx, task.ID)
		if err != nil || number != "01012345678" {
			t.Errorf("RevealFollowUpNumber = %q, %v; want the call's number", number, err)
		}
	})
}

func TestSaveWrapUpWithoutFollowUp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "call-1", "01012345678", "1001", testTime(0))

		w := WrapUp{CallID: "call-1", Reporter: ReporterFamily, IsolationScore: 0, Risk: RiskNone, FollowUp: FollowUpNone}
		saved, err := store.SaveWrapUp(context.Background(), w, false)
		if err != nil {
			t.Fatalf("SaveWrapUp: %v", err)
		}
		if saved.FollowUpID != "" {
			t.Errorf("FollowUpID = %q, want none", saved.FollowUpID)
		}
		if tasks := listAll(t, store); len(tasks) != 0 {
			t.Errorf("follow-ups = %+v, want none", tasks)
		}
	})
}

func TestSaveWrapUpRejectsBadInput(t *testing.T) {
	long := strings.Repeat("가", MaxNotesLength+1)
	tests := []struct {
		name  string
		edit  func(w *WrapUp)
		field string
	}{
		{"missing reporter", func(w *WrapUp) { w.Reporter = "" }, "reporter"},
		{"unknown reporter", func(w *WrapUp) { w.Reporter = "stranger" }, "reporter"},
		{"score above range", func(w *WrapUp) { w.IsolationScore = 6 }, "isolation_score"},
		{"negative score", func(w *WrapUp) { w.IsolationScore = -1 }, "isolation_score"},
		{"unknown risk", func(w *WrapUp) { w.Risk = "severe" }, "risk"},
		{"missing risk", func(w *WrapUp) { w.Risk = "" }, "risk"},
		{"unknown followup", func(w *WrapUp) { w.FollowUp = "interrupted" }, "followup"},
		{"missing due date", func(w *WrapUp) { w.DueDate = "" }, "due_date"},
		{"malformed due date", func(w *WrapUp) { w.DueDate = "07/12/2026" }, "due_date"},
		{"past due date", func(w *WrapUp) { w.DueDate = pastDate }, "due_date"},
		{"missing district", func(w *WrapUp) { w.District = " " }, "district"},
		{"district too long", func(w *WrapUp) { w.District = strings.Repeat("구", MaxDistrictLength+1) }, "district"},
		{"district with newline", func(w *WrapUp) { w.District = "Mapo-gu\nSeoul" }, "district"},
		{"notes too long", func(w *WrapUp) { w.Notes = long }, "notes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, db testDB) {
				ctx := context.Background()
				store := db.openStore(t, testKey(t, 1))
				startCall(t, store, "call-1", "01012345678", "1001", testTime(0))
				w := homeVisit("call-1")
				tt.edit(&w)

				_, err := store.SaveWrapUp(ctx, w, false)
				var fieldErr *FieldError
				if !errors.As(err, &fieldErr) || fieldErr.Field != tt.field {
					t.Fatalf("SaveWrapUp error = %v, want a FieldError for %q", err, tt.field)
				}
				if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), `"`+tt.field+`"`) {
					t.Errorf("error %q does not wrap ErrInvalidInput or name the field", err)
				}
				if _, err := store.GetWrapUp(ctx, "call-1"); !errors.Is(err, ErrWrapUpNotFound) {
					t.Errorf("GetWrapUp after a rejected save: %v, want ErrWrapUpNotFound", err)
				}
				if tasks := listAll(t, store); len(tasks) != 0 {
					t.Errorf("follow-ups after a rejected save = %+v, want none", tasks)
				}
			})
		})
	}
}

func TestSaveWrapUpUnknownCall(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		_, err := store.SaveWrapUp(context.Background(), homeVisit("no-such-call"), false)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("SaveWrapUp of an unknown call: %v, want ErrNotFound", err)
		}
		if tasks := listAll(t, store); len(tasks) != 0 {
			t.Errorf("follow-ups = %+v, want none", tasks)
		}
	})
}

func TestSaveWrapUpDuplicateAndReplace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "call-1", "01012345678", "1001", testTime(0))
		first, err := store.SaveWrapUp(ctx, homeVisit("call-1"), false)
		if err != nil {
			t.Fatalf("first SaveWrapUp: %v", err)
		}

		second := homeVisit("call-1")
		second.Risk, second.FollowUp, second.Notes = RiskImminent, FollowUpEmergency, "Second opinion."
		if _, err := store.SaveWrapUp(ctx, second, false); !errors.Is(err, ErrWrapUpExists) {
			t.Fatalf("duplicate SaveWrapUp error = %v, want ErrWrapUpExists", err)
		}
		if got, _ := store.GetWrapUp(ctx, "call-1"); got.Risk != RiskHigh || got.Notes != homeVisit("").Notes {
			t.Errorf("after a rejected duplicate the wrap-up = %+v, want the first kept", got)
		}
		if tasks := listAll(t, store); len(tasks) != 1 {
			t.Fatalf("follow-ups after a rejected duplicate = %d, want 1", len(tasks))
		}

		second.Counselor = "1003"
		replaced, err := store.SaveWrapUp(ctx, second, true)
		if err != nil {
			t.Fatalf("replacing SaveWrapUp: %v", err)
		}
		got, err := store.GetWrapUp(ctx, "call-1")
		if err != nil {
			t.Fatalf("GetWrapUp: %v", err)
		}
		if got.Risk != RiskImminent || got.Notes != "Second opinion." || got.Counselor != "1003" || got.FollowUpID != replaced.FollowUpID {
			t.Errorf("replaced wrap-up = %+v, want the second one", got)
		}
		old, err := store.GetFollowUp(ctx, first.FollowUpID)
		if err != nil {
			t.Fatalf("GetFollowUp of the first task: %v", err)
		}
		if old.State != FollowUpClosed || old.Outcome != OutcomeWrapUpReplaced || old.ClosedAt.IsZero() {
			t.Errorf("first task = %+v, want it closed as replaced", old)
		}
		open, err := store.ListFollowUps(ctx, FollowUpFilter{State: FollowUpOpen})
		if err != nil {
			t.Fatalf("ListFollowUps: %v", err)
		}
		if len(open) != 1 || open[0].ID != replaced.FollowUpID || open[0].Kind != FollowUpEmergency {
			t.Errorf("open follow-ups = %+v, want the replacing emergency task alone", open)
		}
	})
}

func TestHistoryOfCaller(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "old", "010-1234-5678", "1001", testTime(time.Hour))
		startCall(t, store, "middle", "+82 10 1234 5678", "1002", testTime(2*time.Hour))
		startCall(t, store, "current", "01012345678", "1001", time.Time{})
		startCall(t, store, "other", "01099998888", "1001", testTime(3*time.Hour))
		w := WrapUp{CallID: "old", Reporter: ReporterSelf, IsolationScore: 4, Risk: RiskMedium, FollowUp: FollowUpNone,
			Notes: strings.Repeat("a", summaryLength+50)}
		if _, err := store.SaveWrapUp(ctx, w, false); err != nil {
			t.Fatalf("SaveWrapUp: %v", err)
		}

		current, err := store.Get(ctx, "current")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		history, err := store.History(ctx, current.CallerHash, "current", 0)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(history) != 2 || history[0].CallID != "middle" || history[1].CallID != "old" {
			t.Fatalf("history = %+v, want middle then old", history)
		}
		if history[0].HasWrapUp || history[0].Summary != "" {
			t.Errorf("middle = %+v, want no wrap-up", history[0])
		}
		old := history[1]
		if !old.HasWrapUp || old.Risk != RiskMedium || old.FollowUp != FollowUpNone || old.Outcome != OutcomeAnswered {
			t.Errorf("old = %+v, want its wrap-up and outcome", old)
		}
		if len(old.Summary) != summaryLength {
			t.Errorf("summary length = %d, want %d", len(old.Summary), summaryLength)
		}

		limited, err := store.History(ctx, current.CallerHash, "current", 1)
		if err != nil || len(limited) != 1 || limited[0].CallID != "middle" {
			t.Errorf("History with limit 1 = %+v, %v; want middle alone", limited, err)
		}
		none, err := store.History(ctx, "", "current", 0)
		if err != nil || len(none) != 0 {
			t.Errorf("History of an empty hash = %+v, %v; want none", none, err)
		}
	})
}

func TestWrapUpNotesSealed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		startCall(t, store, "call-1", "01012345678", "1001", testTime(0))
		startCall(t, store, "call-2", "01012345678", "1001", testTime(time.Minute))
		for _, id := range []string{"call-1", "call-2"} {
			if _, err := store.SaveWrapUp(ctx, homeVisit(id), false); err != nil {
				t.Fatalf("SaveWrapUp %s: %v", id, err)
			}
		}

		var sealed []byte
		if err := db.raw(t).QueryRow(`SELECT notes_sealed FROM wrapups WHERE call_id = 'call-1'`).Scan(&sealed); err != nil {
			t.Fatalf("read sealed notes: %v", err)
		}
		if strings.Contains(string(sealed), "Lives alone") {
			t.Fatal("notes are stored in clear text")
		}
		db.exec(t, `UPDATE wrapups SET notes_sealed = ? WHERE call_id = 'call-2'`, sealed)
		got, err := store.GetWrapUp(ctx, "call-2")
		if err != nil {
			t.Fatalf("GetWrapUp: %v", err)
		}
		if !errors.Is(got.NotesErr, ErrDecryptNotes) || got.Notes != "" {
			t.Errorf("notes copied from another call = %q (err %v), want ErrDecryptNotes", got.Notes, got.NotesErr)
		}
	})
}

func TestLatestCallOf(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		store := db.openStore(t, testKey(t, 1))
		for i, id := range []string{"first", "second"} {
			startCall(t, store, id, "01012345678", "1001", testTime(time.Duration(i)*time.Hour))
			if err := store.Update(ctx, id, Patch{CounselorAnsweredAt: new(testTime(time.Duration(i) * time.Hour))}); err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
		startCall(t, store, "unanswered", "01012345678", "1001", testTime(2*time.Hour))

		latest, err := store.LatestCallOf(ctx, "1001")
		if err != nil || latest.CallID != "second" {
			t.Errorf("LatestCallOf = %s, %v; want second", latest.CallID, err)
		}
		if _, err := store.LatestCallOf(ctx, "1002"); !errors.Is(err, ErrNotFound) {
			t.Errorf("LatestCallOf of a counselor without calls: %v, want ErrNotFound", err)
		}
	})
}
