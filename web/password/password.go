// Package password hashes and verifies the passwords of web users.
//
// New hashes are argon2id (RFC 9106) in the PHC string format that
// libargon2 and most tools write:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
//
// where m is the memory in KiB, t the number of passes, p the lanes, and
// salt and hash are base64 without padding. Verify also accepts bcrypt
// hashes ($2a$, $2b$, $2y$), so that hashes made with htpasswd or other
// tools keep working.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are the argon2id cost parameters of a hash.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the number of lanes.
	Threads uint8
}

// DefaultParams are the costs of new hashes: the second recommended
// option of RFC 9106 section 4 (64 MiB, 3 passes, 4 lanes).
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 4}

// Limits on the parameters a stored hash may carry, so that a hash in the
// configuration cannot make one login take gigabytes or minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 20
	minTime      = 1
	minMemoryKiB = 8 // argon2 needs 8 KiB per lane at least
)

// Sizes of new hashes, in bytes.
const (
	saltLength = 16
	keyLength  = 32
)

// MaxLength bounds a password in bytes. bcrypt reads only the first 72
// bytes, and longer input only costs hashing time.
const MaxLength = 1024

// argon2Prefix starts every argon2id PHC string.
const argon2Prefix = "$argon2id$"

// bcryptPrefixes are the bcrypt variants Verify accepts.
var bcryptPrefixes = []string{"$2a$", "$2b$", "$2y$"}

// Errors of Check and Verify.
var (
	// ErrMismatch is returned by Verify for a wrong password.
	ErrMismatch = errors.New("password does not match")
	// ErrUnknownFormat marks a hash that is neither argon2id nor bcrypt.
	ErrUnknownFormat = errors.New("hash is neither argon2id ($argon2id$...) nor bcrypt ($2a$, $2b$, $2y$)")
	// ErrMalformed marks an argon2id or bcrypt hash that cannot be parsed
	// or whose parameters are out of range.
	ErrMalformed = errors.New("malformed password hash")
)

// Hash returns the argon2id hash of password with DefaultParams and a
// random salt.
func Hash(password string) (string, error) {
	return HashWithParams(password, DefaultParams)
}

// HashWithParams returns the argon2id hash of password with params and a
// random salt. Tests use it with small costs.
func HashWithParams(password string, params Params) (string, error) {
	if len(password) > MaxLength {
		return "", fmt.Errorf("password is longer than %d bytes: use a shorter one", MaxLength)
	}
	if err := params.check(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading a random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, params.Time, params.Memory, params.Threads, keyLength)
	return encodeArgon2(params, salt, key), nil
}

// encodeArgon2 writes the PHC string of an argon2id hash.
func encodeArgon2(params Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argon2Prefix, argon2.Version,
		params.Memory, params.Time, params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Check returns nil when hash is an argon2id or bcrypt hash that Verify
// can use, else an error wrapping ErrUnknownFormat or ErrMalformed.
func Check(hash string) error {
	switch {
	case strings.HasPrefix(hash, argon2Prefix):
		_, err := parseArgon2(hash)
		return err
	case isBcrypt(hash):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("%w: bcrypt: %w", ErrMalformed, err)
		}
		return nil
	default:
		return ErrUnknownFormat
	}
}

// Verify returns nil when password matches hash, ErrMismatch when it does
// not, and another error when hash cannot be used. The comparison takes
// the same time whatever the first differing byte.
func Verify(hash, password string) error {
	if len(password) > MaxLength {
		return ErrMismatch
	}
	switch {
	case strings.HasPrefix(hash, argon2Prefix):
		return verifyArgon2(hash, password)
	case isBcrypt(hash):
		return verifyBcrypt(hash, password)
	default:
		return ErrUnknownFormat
	}
}

func isBcrypt(hash string) bool {
	for _, prefix := range bcryptPrefixes {
		if strings.HasPrefix(hash, prefix) {
			return true
		}
	}
	return false
}

func verifyBcrypt(hash, password string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return ErrMismatch
	default:
		return fmt.Errorf("%w: bcrypt: %w", ErrMalformed, err)
	}
}

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	params Params
	salt   []byte
	key    []byte
}

func verifyArgon2(hash, password string) error {
	parsed, err := parseArgon2(hash)
	if err != nil {
		return err
	}
	p := parsed.params
	key := argon2.IDKey([]byte(password), parsed.salt, p.Time, p.Memory, p.Threads, uint32(len(parsed.key)))
	if subtle.ConstantTimeCompare(key, parsed.key) != 1 {
		return ErrMismatch
	}
	return nil
}

// parseArgon2 reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parseArgon2(hash string) (argon2Hash, error) {
	parts := strings.Split(hash, "$")
	// parts[0] is empty because the string starts with '$'.
	if len(parts) != 6 || parts[1] != "argon2id" {
		return argon2Hash{}, fmt.Errorf("%w: argon2id: want $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>", ErrMalformed)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argon2Hash{}, fmt.Errorf("%w: argon2id: version %q is not supported: use v=%d", ErrMalformed, parts[2], argon2.Version)
	}
	params, err := parseParams(parts[3])
	if err != nil {
		return argon2Hash{}, err
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return argon2Hash{}, fmt.Errorf("%w: argon2id: the salt is not base64 of at least 8 bytes", ErrMalformed)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return argon2Hash{}, fmt.Errorf("%w: argon2id: the hash is not base64 of at least 16 bytes", ErrMalformed)
	}
	return argon2Hash{params: params, salt: salt, key: key}, nil
}

// parseParams reads "m=65536,t=3,p=4" and checks the ranges.
func parseParams(text string) (Params, error) {
	var params Params
	var memory, passes, lanes uint64
	n, err := fmt.Sscanf(text, "m=%d,t=%d,p=%d", &memory, &passes, &lanes)
	if err != nil || n != 3 || text != fmt.Sprintf("m=%d,t=%d,p=%d", memory, passes, lanes) {
		return params, fmt.Errorf("%w: argon2id: parameters %q are not m=<KiB>,t=<passes>,p=<lanes>", ErrMalformed, text)
	}
	if memory > maxMemoryKiB || passes > maxTime || lanes > 255 {
		return params, fmt.Errorf("%w: argon2id: parameters %q exceed m=%d, t=%d, p=255", ErrMalformed, text, maxMemoryKiB, maxTime)
	}
	params = Params{Memory: uint32(memory), Time: uint32(passes), Threads: uint8(lanes)}
	return params, params.check()
}

// check rejects costs that argon2 cannot run or that are out of range.
func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("%w: argon2id: p must be at least 1", ErrMalformed)
	case p.Time < minTime || p.Time > maxTime:
		return fmt.Errorf("%w: argon2id: t must be from %d to %d", ErrMalformed, minTime, maxTime)
	case p.Memory < minMemoryKiB*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("%w: argon2id: m must be from %d KiB per lane to %d KiB", ErrMalformed, minMemoryKiB, maxMemoryKiB)
	}
	return nil
}

// dummyHash is a hash of a random password with DefaultParams, made once.
var dummyHash = sync.OnceValue(func() string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	hash, err := Hash(base64.RawStdEncoding.EncodeToString(secret))
	if err != nil {
		// Hash fails only for a password over MaxLength or bad params,
		// and neither applies here.
		panic("password: hashing the dummy password: " + err.Error())
	}
	return hash
})

// VerifyDummy does the work of Verify against a fixed hash that no
// password matches, and returns nothing. Call it for an unknown user name,
// so that the time of the answer does not tell whether the name exists.
func VerifyDummy(password string) {
	_ = Verify(dummyHash(), password)
}
