package records

import (
	"encoding/csv"
	"fmt"
	"io"
)

// FollowUpCSVHeader is the first row of ExportFollowUpsCSV.
var FollowUpCSVHeader = []string{
	"id", "call_id", "kind", "origin", "risk", "district", "due_date", "owner", "state", "outcome",
	"number", "notes", "created_at", "updated_at", "closed_at",
}

// ExportFollowUpsCSV writes the tasks as CSV (RFC 4180) with a header
// row. Numbers are masked as MaskNumber does unless reveal is set. A number
// or notes that did not decrypt are written as "undecryptable". Cells that
// a spreadsheet would run as a formula are escaped as in Export.
func ExportFollowUpsCSV(w io.Writer, tasks []FollowUp, reveal bool) error {
	writer := csv.NewWriter(w)
	if err := writer.Write(FollowUpCSVHeader); err != nil {
		return fmt.Errorf("export follow-ups as CSV: %w", err)
	}
	for _, task := range tasks {
		if err := writer.Write(followUpCells(task, reveal)); err != nil {
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
func followUpCells(task FollowUp, reveal bool) []string {
	number := FollowUpNumber(task, reveal)
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
		cells[i] = escapeFormula(cell)
	}
	return cells
}

// FollowUpNumber returns the number of task as a list or an export shows
// it: masked as MaskNumber does unless reveal is set, "undecryptable" when
// it did not decrypt, and "withheld" when there is none.
func FollowUpNumber(task FollowUp, reveal bool) string {
	switch {
	case task.NumberErr != nil:
		return undecryptable
	case reveal && task.Number != "":
		return task.Number
	default:
		return MaskNumber(task.Number)
	}
}
