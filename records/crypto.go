package records

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// HKDF info strings. Distinct strings give independent subkeys from one
// master key; changing either makes every stored number unreadable.
const (
	encryptionKeyInfo = "helpline records v1: caller number encryption (AES-256-GCM)"
	hashKeyInfo       = "helpline records v1: caller number lookup hash (HMAC-SHA256)"
	subkeySize        = 32
)

// ErrDecrypt is set on a record whose caller number does not decrypt: the
// records key differs from the one the number was stored with, or the
// stored bytes are damaged.
var ErrDecrypt = errors.New("cannot decrypt caller number")

// numberCipher encrypts caller numbers and computes their lookup hashes.
type numberCipher struct {
	// aead is AES-256-GCM with a random 12-byte nonce that Seal prepends to
	// the ciphertext and Open reads back.
	aead    cipher.AEAD
	hashKey []byte
}

// newNumberCipher derives the encryption and hashing subkeys from the
// master key with HKDF-SHA256 (RFC 5869). The master key is uniformly
// random, so no salt is needed.
func newNumberCipher(key Key) (*numberCipher, error) {
	if key.IsZero() {
		return nil, fmt.Errorf("%w: the key is empty; load it with LoadKey", ErrNoKey)
	}

	encryptionKey, err := hkdf.Key(sha256.New, key.material[:], nil, encryptionKeyInfo, subkeySize)
	if err != nil {
		return nil, fmt.Errorf("derive records encryption key: %w", err)
	}
	hashKey, err := hkdf.Key(sha256.New, key.material[:], nil, hashKeyInfo, subkeySize)
	if err != nil {
		return nil, fmt.Errorf("derive records hash key: %w", err)
	}

	block, err := aes.NewCipher(encryptionKey)
	if err != nil {
		return nil, fmt.Errorf("create AES cipher for records: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("create AES-GCM for records: %w", err)
	}
	return &numberCipher{aead: aead, hashKey: hashKey}, nil
}

// seal encrypts number, binding it to callID as additional data. The result
// is the 12-byte nonce followed by the ciphertext and the 16-byte tag.
func (c *numberCipher) seal(callID, number string) []byte {
	return c.aead.Seal(nil, nil, []byte(number), []byte(callID))
}

// open decrypts what seal returned for the same callID.
func (c *numberCipher) open(callID string, sealed []byte) (string, error) {
	plain, err := c.aead.Open(nil, nil, sealed, []byte(callID))
	if err != nil {
		return "", fmt.Errorf("%w of call %s: the records key differs from the one it was stored with, or the data is damaged",
			ErrDecrypt, callID)
	}
	return string(plain), nil
}

// hash returns the hex HMAC-SHA256 of a normalised number, or "" for an
// empty one, so that records without a number never match each other.
func (c *numberCipher) hash(normalized string) string {
	if normalized == "" {
		return ""
	}
	mac := hmac.New(sha256.New, c.hashKey)
	mac.Write([]byte(normalized))
	return hex.EncodeToString(mac.Sum(nil))
}
