package records

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Export formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// ErrUnknownFormat is returned by Export for a format other than FormatJSONL
// and FormatCSV.
var ErrUnknownFormat = errors.New("unknown export format")

const (
	// exportTimeLayout is RFC 3339 with milliseconds, written in the
	// server's time zone with its offset.
	exportTimeLayout = "2006-01-02T15:04:05.000Z07:00"
	// formulaEscape is put before a CSV cell that a spreadsheet would run as
	// a formula.
	formulaEscape = "'"
)

// formulaStarts are the first characters that make spreadsheet programs
// treat a CSV cell as a formula. The full-width forms are escaped too as a
// precaution, although no spreadsheet was tested for running them.
const formulaStarts = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"

// formulaPadding are the characters skipped before looking for a formula
// start, because a spreadsheet may trim them before parsing the cell.
const formulaPadding = " \n\u3000"

// csvHeader is the first CSV row. It names the columns as the JSON keys of
// exportRow do, in the same order.
var csvHeader = []string{
	"call_id", "source", "called_number", "caller_number", "caller_withheld", "caller_hash", "caller_number_error",
	"started_at", "answered_at", "queued_at", "counselor_answered_at", "ended_at",
	"digits", "language", "caller_type", "queue", "counselor", "transfer_target", "queue_wait_seconds",
	"outcome", "hangup_side", "hangup_reason", "updated_at", "emergency_target", "priority", "node",
}

// exportRow is one record as exported. Times are text so that a zero time
// can be written as "".
type exportRow struct {
	CallID              string  `json:"call_id"`
	Source              string  `json:"source"`
	CalledNumber        string  `json:"called_number"`
	CallerNumber        string  `json:"caller_number"`
	CallerWithheld      bool    `json:"caller_withheld"`
	CallerHash          string  `json:"caller_hash"`
	CallerNumberError   string  `json:"caller_number_error"`
	StartedAt           string  `json:"started_at"`
	AnsweredAt          string  `json:"answered_at"`
	QueuedAt            string  `json:"queued_at"`
	CounselorAnsweredAt string  `json:"counselor_answered_at"`
	EndedAt             string  `json:"ended_at"`
	Digits              string  `json:"digits"`
	Language            string  `json:"language"`
	CallerType          string  `json:"caller_type"`
	Queue               string  `json:"queue"`
	Counselor           string  `json:"counselor"`
	TransferTarget      string  `json:"transfer_target"`
	QueueWaitSeconds    float64 `json:"queue_wait_seconds"`
	Outcome             string  `json:"outcome"`
	HangupSide          string  `json:"hangup_side"`
	HangupReason        string  `json:"hangup_reason"`
	UpdatedAt           string  `json:"updated_at"`
	EmergencyTarget     string  `json:"emergency_target"`
	Priority            string  `json:"priority"`
	Node                string  `json:"node"`
}

// Export writes recs to w as JSON Lines (one object per line) or as CSV with
// a header row. The caller number is masked with MaskNumber unless reveal is
// set. A record whose number did not decrypt gets an empty number and the
// reason in caller_number_error. Times are RFC 3339 in UTC with
// milliseconds, or empty when the call never reached that step. The queue
// wait is in seconds, rounded to milliseconds.
//
// Callers control some fields, such as their number. So in CSV, a cell
// starting with = + - @, a tab or a carriage return gets a leading
// apostrophe, and spreadsheet programs show it as text instead of running
// it as a formula.
func Export(w io.Writer, recs []Record, format string, reveal bool) error {
	buffered := bufio.NewWriter(w)

	var err error
	switch format {
	case FormatJSONL:
		err = exportJSONL(buffered, recs, reveal)
	case FormatCSV:
		err = exportCSV(buffered, recs, reveal)
	default:
		return fmt.Errorf("%w %q: use %s or %s", ErrUnknownFormat, format, FormatJSONL, FormatCSV)
	}
	if err != nil {
		return err
	}

	if err := buffered.Flush(); err != nil {
		return fmt.Errorf("export call records: %w", err)
	}
	return nil
}

func exportJSONL(w io.Writer, recs []Record, reveal bool) error {
	encoder := json.NewEncoder(w)
	encoder.SetEscapeHTML(false)
	for _, rec := range recs {
		if err := encoder.Encode(newExportRow(rec, reveal)); err != nil {
			return fmt.Errorf("export call record %s as JSON: %w", rec.CallID, err)
		}
	}
	return nil
}

func exportCSV(w io.Writer, recs []Record, reveal bool) error {
	writer := csv.NewWriter(w)
	if err := writer.Write(csvHeader); err != nil {
		return fmt.Errorf("export call records as CSV: %w", err)
	}
	for _, rec := range recs {
		if err := writer.Write(newExportRow(rec, reveal).csvCells()); err != nil {
			return fmt.Errorf("export call record %s as CSV: %w", rec.CallID, err)
		}
	}

	writer.Flush()
	if err := writer.Error(); err != nil {
		return fmt.Errorf("export call records as CSV: %w", err)
	}
	return nil
}

// newExportRow converts rec, masking the number unless reveal is set.
func newExportRow(rec Record, reveal bool) exportRow {
	row := exportRow{
		CallID:              rec.CallID,
		Source:              rec.Source,
		CalledNumber:        rec.CalledNumber,
		CallerWithheld:      rec.CallerWithheld,
		CallerHash:          rec.CallerHash,
		StartedAt:           exportTime(rec.StartedAt),
		AnsweredAt:          exportTime(rec.AnsweredAt),
		QueuedAt:            exportTime(rec.QueuedAt),
		CounselorAnsweredAt: exportTime(rec.CounselorAnsweredAt),
		EndedAt:             exportTime(rec.EndedAt),
		Digits:              rec.Digits,
		Language:            rec.Language,
		CallerType:          rec.CallerType,
		Queue:               rec.Queue,
		Counselor:           rec.Counselor,
		TransferTarget:      rec.TransferTarget,
		QueueWaitSeconds:    exportSeconds(rec.QueueWait),
		Outcome:             string(rec.Outcome),
		HangupSide:          string(rec.HangupSide),
		HangupReason:        rec.HangupReason,
		UpdatedAt:           exportTime(rec.UpdatedAt),
		EmergencyTarget:     rec.EmergencyTarget,
		Priority:            rec.Priority,
		Node:                rec.Node,
	}

	switch {
	case rec.CallerNumberErr != nil:
		row.CallerNumberError = rec.CallerNumberErr.Error()
	case reveal:
		row.CallerNumber = rec.CallerNumber
	default:
		row.CallerNumber = MaskNumber(rec.CallerNumber)
	}
	return row
}

// csvCells returns the cells of row in csvHeader order, escaped against
// formula injection.
func (row exportRow) csvCells() []string {
	cells := []string{
		row.CallID, row.Source, row.CalledNumber, row.CallerNumber, strconv.FormatBool(row.CallerWithheld),
		row.CallerHash, row.CallerNumberError,
		row.StartedAt, row.AnsweredAt, row.QueuedAt, row.CounselorAnsweredAt, row.EndedAt,
		row.Digits, row.Language, row.CallerType, row.Queue, row.Counselor, row.TransferTarget,
		strconv.FormatFloat(row.QueueWaitSeconds, 'f', -1, 64),
		row.Outcome, row.HangupSide, row.HangupReason, row.UpdatedAt, row.EmergencyTarget, row.Priority, row.Node,
	}
	for i, cell := range cells {
		cells[i] = escapeFormula(cell)
	}
	return cells
}

// escapeFormula prefixes cell with an apostrophe when its first character
// after formulaPadding is one of formulaStarts.
func escapeFormula(cell string) string {
	first, _ := utf8.DecodeRuneInString(strings.TrimLeft(cell, formulaPadding))
	if first != utf8.RuneError && strings.ContainsRune(formulaStarts, first) {
		return formulaEscape + cell
	}
	return cell
}

// exportTime formats t in the local time zone (TZ) with its offset, such
// as 2026-12-05T18:30:00.000+09:00 in Seoul, so that the follow-up team
// reads local times and programs still parse RFC 3339. It returns "" for
// the zero time.
func exportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(exportTimeLayout)
}

// exportSeconds converts d to seconds rounded to milliseconds.
func exportSeconds(d time.Duration) float64 {
	return d.Round(time.Millisecond).Seconds()
}
