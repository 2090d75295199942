package records

import (
	"encoding/csv"
	"fmt"
	"io"
)

// FollowUpCSVHeader is the first row of ExportFollowUpsCSV unless
// FollowUpCSVOptions.Header replaces it.
var FollowUpCSVHeader = []string{
	"id", "call_id", "kind", "origin", "risk", "district", "due_date", "owner", "state", "outcome",
	"number", "notes", "created_at", "updated_at", "closed_at",
}

// utf8BOM starts every follow-up CSV, because spreadsheets such as Excel
// read a CSV without it in the local code page and garble Korean text.
const utf8BOM = "\uFEFF"

// FollowUpCSVOptions set how ExportFollowUpsCSV writes the tasks.
type FollowUpCSVOptions struct {
	// Reveal writes full numbers instead of masked ones.
	Reveal bool
	// Header replaces FollowUpCSVHeader, in the same order, as for a
	// translated export. Nil writes FollowUpCSVHeader.
	Header []string
	// Translate, when set, returns the text to write for a cell of the
	// column named as in FollowUpCSVHeader. Nil writes the values as
	// stored.
	Translate func(column, value string) string
}

// ExportFollowUpsCSV writes the tasks as CSV (RFC 4180), starting with a
// UTF-8 byte order mark and a header row. Numbers are masked as MaskNumber
// does unless opts.Reveal is set, and full numbers are written as
// FormatNumber groups them, so that a spreadsheet keeps the leading zero
// and reads the cell as text. A number or notes that did not decrypt are
// written as "undecryptable". Cells that a spreadsheet would run as a
// formula are escaped as in Export.
func ExportFollowUpsCSV(w io.Writer, tasks []FollowUp, opts FollowUpCSVOptions) error {
	header := opts.Header
	if header == nil {
		header = FollowUpCSVHeader
	}
	if len(header) != len(FollowUpCSVHeader) {
		return fmt.Errorf("export follow-ups as CSV: header has %d columns, want %d", len(header), len(FollowUpCSVHeader))
	}

	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return fmt.Errorf("export follow-ups as CSV: %w", err)
	}
	writer := csv.NewWriter(w)
	if err := writer.Write(header); err != nil {
		return fmt.Errorf("export follow-ups as CSV: %w", err)
	}
	for _, task := range tasks {
		if err := writer.Write(followUpCells(task, opts)); err != nil {
			return fmt.Errorf("export follow-up %s as CSV: %w", task.ID, err)
		}
	}
	writer.Flush()
	if err := writer.Error(); err != nil {
		return fmt.Errorf("export follow-ups as CSV: %w", err)
	}
	return nil
}

// undecryptable replaces a value that did not decrypt in an export.
const undecryptable = "undecryptable"

// followUpCells returns the cells of task in FollowUpCSVHeader order.
func followUpCells(task FollowUp, opts FollowUpCSVOptions) []string {
	number := FollowUpNumber(task, opts.Reveal)
	notes := task.Notes
	if task.NotesErr != nil {
		notes = undecryptable
	}
	cells := []string{
		task.ID, task.CallID, string(task.Kind), string(task.Origin), string(task.Risk), task.District, task.DueDate,
		task.Owner, string(task.State), task.Outcome, number, notes,
		exportTime(task.CreatedAt), exportTime(task.UpdatedAt), exportTime(task.ClosedAt),
	}
	for i, cell := range cells {
		if opts.Translate != nil {
			cell = opts.Translate(FollowUpCSVHeader[i], cell)
		}
		cells[i] = escapeFormula(cell)
	}
	return cells
}

// FollowUpNumber returns the number of task as a list or an export shows
// it. The number is masked as MaskNumber does, or with reveal grouped as
// FormatNumber does. A number that did not decrypt is "undecryptable",
// and a missing one "withheld".
func FollowUpNumber(task FollowUp, reveal bool) string {
	switch {
	case task.NumberErr != nil:
		return undecryptable
	case reveal && task.Number != "":
		return FormatNumber(task.Number)
	default:
		return MaskNumber(task.Number)
	}
}
