package password

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// cheap keeps the tests fast; the format is the same as with DefaultParams.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerifyRoundTrip(t *testing.T) {
	hash, err := HashWithParams("kim-demo", cheap)
	if err != nil {
		t.Fatalf("HashWithParams: %v", err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q, want the PHC argon2id format", hash)
	}
	if err := Verify(hash, "kim-demo"); err != nil {
		t.Errorf("Verify(right password) = %v, want nil", err)
	}
	if err := Verify(hash, "kim-demO"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong password) = %v, want ErrMismatch", err)
	}
	if err := Check(hash); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	first, _ := HashWithParams("same", cheap)
	second, _ := HashWithParams("same", cheap)
	if first == second {
		t.Errorf("two hashes of one password are equal: %q", first)
	}
}

func TestDefaultParamsHash(t *testing.T) {
	hash, err := Hash("admin-demo")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash = %q, want the default parameters", hash)
	}
	if err := Verify(hash, "admin-demo"); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

func TestVerifyBcrypt(t *testing.T) {
	raw, err := bcrypt.GenerateFromPassword([]byte("lee-demo"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		hash := prefix + string(raw[4:])
		if err := Check(hash); err != nil {
			t.Errorf("Check(%s) = %v", prefix, err)
		}
		if err := Verify(hash, "lee-demo"); err != nil {
			t.Errorf("Verify(%s, right) = %v", prefix, err)
		}
		if err := Verify(hash, "lee"); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%s, wrong) = %v, want ErrMismatch", prefix, err)
		}
	}
}

func TestCheckRejectsBadHashes(t *testing.T) {
	tests := []struct {
		name string
		hash string
		want error
	}{
		{"empty", "", ErrUnknownFormat},
		{"plain text", "kim-demo", ErrUnknownFormat},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrUnknownFormat},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"missing part", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ", ErrMalformed},
		{"bad params", "$argon2id$v=19$m=64;t=1;p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"zero lanes", "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", ErrMalformed},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", ErrMalformed},
		{"bcrypt garbage", "$2b$xx$abc", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.hash); !errors.Is(err, tt.want) {
				t.Errorf("Check(%q) = %v, want %v", tt.hash, err, tt.want)
			}
		})
	}
}

func TestVerifyTooLongPassword(t *testing.T) {
	hash, _ := HashWithParams("x", cheap)
	if err := Verify(hash, strings.Repeat("x", MaxLength+1)); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(too long) = %v, want ErrMismatch", err)
	}
	if _, err := Hash(strings.Repeat("x", MaxLength+1)); err == nil {
		t.Error("Hash(too long) = nil error, want an error")
	}
}

func TestVerifyDummyRuns(t *testing.T) {
	VerifyDummy("anything")
}
