package records

import (
	"errors"
	"fmt"
	"time"
)

// Prefixes of the additional data that binds sealed notes to their row.
// They keep notes apart from caller numbers, which are sealed with the
// bare call or task id, so a sealed value moved between columns does not
// decrypt.
const (
	wrapUpNotesPrefix   = "wrapup:"
	followUpNotesPrefix = "followup:"
	// noteTimeLayout starts each line AddFollowUpNote appends, in local
	// time.
	noteTimeLayout = "2006-01-02 15:04"
)

// ErrDecryptNotes is set on a wrap-up or follow-up whose notes do not
// decrypt: the records key differs from the one they were stored with, or
// the stored bytes are damaged.
var ErrDecryptNotes = errors.New("cannot decrypt notes")

// sealNotes encrypts notes bound to additional data ad, or returns nil,
// stored as NULL, for empty notes.
func (s *Store) sealNotes(ad, notes string) any {
	if notes == "" {
		return nil
	}
	return s.numbers.aead.Seal(nil, nil, []byte(notes), []byte(ad))
}

// openNotes decrypts what sealNotes returned for the same ad. NULL gives
// empty notes.
func (s *Store) openNotes(ad string, sealed []byte) (string, error) {
	if sealed == nil {
		return "", nil
	}
	plain, err := s.numbers.aead.Open(nil, nil, sealed, []byte(ad))
	if err != nil {
		return "", fmt.Errorf("%w of %s: the records key differs from the one they were stored with, or the data is damaged",
			ErrDecryptNotes, ad)
	}
	return string(plain), nil
}

// appendNote adds one "time user: note" line to notes.
func appendNote(notes string, at time.Time, user, note string) string {
	line := at.Local().Format(noteTimeLayout) + " " + user + ": " + note
	if notes == "" {
		return line
	}
	return notes + "\n" + line
}
