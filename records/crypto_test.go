package records

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const testNumber = "+82 10-1234-5678"

// readDatabaseFiles returns the bytes of the database file and of its
// write-ahead log and shared-memory files, when present.
func readDatabaseFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	matches, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatalf("list database files: %v", err)
	}
	for _, match := range matches {
		content, err := os.ReadFile(match)
		if err != nil {
			t.Fatalf("read %s: %v", match, err)
		}
		files[filepath.Base(match)] = content
	}
	return files
}

func TestNumberNeverStoredInClear(t *testing.T) {
	path := tempDBPath(t)
	store, err := Open(context.Background(), path, testKey(t, 1))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Start(context.Background(), StartInfo{CallID: "secret-call", CallerNumber: testNumber, StartedAt: testTime(0)}); err != nil {
		t.Fatalf("Start: %v", err)
	}

	forms := []string{testNumber, "01012345678", "1012345678", "821012345678", "10-1234-5678", "12345678", "1234-5678"}
	check := func(stage string) {
		t.Helper()
		for name, content := range readDatabaseFiles(t, path) {
			for _, form := range forms {
				if bytes.Contains(content, []byte(form)) {
					t.Errorf("%s: %s contains the caller number as %q", stage, name, form)
				}
			}
		}
	}

	check("while open")
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check("after close")

	// The check above would pass for a file that stored nothing, so make
	// sure the record itself is in the file.
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read database: %v", err)
	}
	if !bytes.Contains(content, []byte("secret-call")) {
		t.Errorf("database file does not contain the call id; the search above proves nothing")
	}
}

func TestWrongKeyReportsPerRecord(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		writer, err := db.open(context.Background(), testKey(t, 1))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		ctx := context.Background()
		calls := []StartInfo{
			{CallID: "with-number", CallerNumber: testNumber, StartedAt: testTime(0)},
			{CallID: "withheld", CallerNumber: "01099998888", CallerWithheld: true, StartedAt: testTime(1)},
		}
		for _, info := range calls {
			if err := writer.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}
		if err := writer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		t.Run("right key decrypts", func(t *testing.T) {
			store := db.openStore(t, testKey(t, 1))
			got, err := store.Get(ctx, "with-number")
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.CallerNumber != testNumber || got.CallerNumberErr != nil {
				t.Errorf("CallerNumber = %q, CallerNumberErr = %v; want %q, nil", got.CallerNumber, got.CallerNumberErr, testNumber)
			}
		})

		t.Run("other key fails per record", func(t *testing.T) {
			store := db.openStore(t, testKey(t, 2))
			recs, err := store.List(ctx, ListOptions{})
			if err != nil {
				t.Fatalf("List with another key: %v, want the records with per-record errors", err)
			}
			if len(recs) != len(calls) {
				t.Fatalf("List returned %d records, want %d", len(recs), len(calls))
			}
			if !errors.Is(recs[0].CallerNumberErr, ErrDecrypt) || recs[0].CallerNumber != "" {
				t.Errorf("record with number: CallerNumber = %q, CallerNumberErr = %v; want \"\", ErrDecrypt",
					recs[0].CallerNumber, recs[0].CallerNumberErr)
			}
			if recs[1].CallerNumberErr != nil {
				t.Errorf("withheld record: CallerNumberErr = %v, want nil", recs[1].CallerNumberErr)
			}

			got, err := store.Get(ctx, "with-number")
			if err != nil || !errors.Is(got.CallerNumberErr, ErrDecrypt) {
				t.Errorf("Get with another key: error %v, CallerNumberErr %v; want nil, ErrDecrypt", err, got.CallerNumberErr)
			}

			found, err := store.FindByNumber(ctx, testNumber)
			if err != nil || len(found) != 0 {
				t.Errorf("FindByNumber with another key = %d records, %v; want none", len(found), err)
			}
		})
	})
}

func TestSealedNumberBoundToCallID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		calls := []StartInfo{
			{CallID: "first", CallerNumber: "01011112222", StartedAt: testTime(0)},
			{CallID: "second", CallerNumber: "01033334444", StartedAt: testTime(0)},
		}
		for _, info := range calls {
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}

		_, err := db.raw(t).Exec(`UPDATE calls SET caller_number_sealed =
		(SELECT caller_number_sealed FROM calls WHERE call_id = 'first') WHERE call_id = 'second'`)
		if err != nil {
			t.Fatalf("copy sealed number: %v", err)
		}

		got, err := store.Get(ctx, "second")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !errors.Is(got.CallerNumberErr, ErrDecrypt) {
			t.Errorf("number moved to another call: CallerNumberErr = %v, want ErrDecrypt", got.CallerNumberErr)
		}
	})
}

func TestFindByNumber(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		calls := []StartInfo{
			{CallID: "national", CallerNumber: "01012345678", StartedAt: testTime(0)},
			{CallID: "international", CallerNumber: "+82 10-1234-5678", StartedAt: testTime(1)},
			{CallID: "uri", CallerNumber: "sip:+821012345678@trunk.example;user=phone", StartedAt: testTime(2)},
			{CallID: "other", CallerNumber: "01087654321", StartedAt: testTime(3)},
			{CallID: "withheld", CallerNumber: "01012345678", CallerWithheld: true, StartedAt: testTime(4)},
			{CallID: "none", StartedAt: testTime(5)},
		}
		for _, info := range calls {
			if err := store.Start(ctx, info); err != nil {
				t.Fatalf("Start %s: %v", info.CallID, err)
			}
		}

		tests := []struct {
			name   string
			number string
			want   []string
		}{
			{"international form", "+82 10-1234-5678", []string{"national", "international", "uri"}},
			{"national form", "01012345678", []string{"national", "international", "uri"}},
			{"tel uri", "tel:+82-10-1234-5678", []string{"national", "international", "uri"}},
			{"other number", "010-8765-4321", []string{"other"}},
			{"unknown number", "01000000000", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				recs, err := store.FindByNumber(ctx, tt.number)
				if err != nil {
					t.Fatalf("FindByNumber: %v", err)
				}
				var ids []string
				for _, rec := range recs {
					ids = append(ids, rec.CallID)
				}
				if len(ids) != len(tt.want) {
					t.Fatalf("call ids = %v, want %v", ids, tt.want)
				}
				for i := range ids {
					if ids[i] != tt.want[i] {
						t.Errorf("call ids = %v, want %v", ids, tt.want)
						break
					}
				}
			})
		}
	})
}

func TestWithheldNumberNotStored(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		store := db.openStore(t, testKey(t, 1))
		ctx := context.Background()
		info := StartInfo{CallID: "private", CallerNumber: "01012345678", CallerWithheld: true, StartedAt: testTime(0)}
		if err := store.Start(ctx, info); err != nil {
			t.Fatalf("Start: %v", err)
		}

		got, err := store.Get(ctx, "private")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.CallerWithheld || got.CallerNumber != "" || got.CallerHash != "" || got.CallerNumberErr != nil {
			t.Errorf("withheld record: withheld %v, number %q, hash %q, err %v; want true, empty, empty, nil",
				got.CallerWithheld, got.CallerNumber, got.CallerHash, got.CallerNumberErr)
		}

		var sealedIsNull bool
		err = store.reader.QueryRow(`SELECT caller_number_sealed IS NULL FROM calls WHERE call_id = 'private'`).Scan(&sealedIsNull)
		if err != nil || !sealedIsNull {
			t.Errorf("sealed number of a withheld call: NULL = %v, %v; want NULL", sealedIsNull, err)
		}
	})
}

func TestSealRandomNonce(t *testing.T) {
	numbers, err := newNumberCipher(testKey(t, 1))
	if err != nil {
		t.Fatalf("newNumberCipher: %v", err)
	}
	first := numbers.seal("call", "01012345678")
	second := numbers.seal("call", "01012345678")
	if bytes.Equal(first, second) {
		t.Errorf("two seals of one number are equal; the nonce is not random")
	}
	// 12-byte nonce, 11 bytes of number, 16-byte tag.
	if want := 12 + len("01012345678") + 16; len(first) != want {
		t.Errorf("sealed length = %d, want %d", len(first), want)
	}
}
