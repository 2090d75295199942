package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxNetstringBytes bounds one message from baresip's ctrl_tcp module.
const maxNetstringBytes = 1 << 20

// maxNetstringDigits is the longest length prefix that fits maxNetstringBytes.
const maxNetstringDigits = 7

// ErrBadNetstring means the control connection sent data that is not a
// netstring ("LENGTH:DATA,").
var ErrBadNetstring = errors.New("invalid netstring")

// readNetstring reads one netstring from r and returns its data.
func readNetstring(r *bufio.Reader) ([]byte, error) {
	length, err := readNetstringLength(r)
	if err != nil {
		return nil, err
	}

	data := make([]byte, length+1)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("%w: reading %d bytes: %w", ErrBadNetstring, length, err)
	}
	if data[length] != ',' {
		return nil, fmt.Errorf("%w: data of %d bytes not followed by a comma", ErrBadNetstring, length)
	}
	return data[:length], nil
}

func readNetstringLength(r *bufio.Reader) (int, error) {
	var digits []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if len(digits) == 0 {
				return 0, err
			}
			return 0, fmt.Errorf("%w: length cut off: %w", ErrBadNetstring, err)
		}
		if b == ':' {
			break
		}
		if b < '0' || b > '9' || len(digits) == maxNetstringDigits {
			return 0, fmt.Errorf("%w: unexpected byte %q in length", ErrBadNetstring, b)
		}
		digits = append(digits, b)
	}
	if len(digits) == 0 {
		return 0, fmt.Errorf("%w: empty length", ErrBadNetstring)
	}

	length, err := strconv.Atoi(string(digits))
	if err != nil || length > maxNetstringBytes {
		return 0, fmt.Errorf("%w: length %q over %d bytes", ErrBadNetstring, digits, maxNetstringBytes)
	}
	return length, nil
}

// appendNetstring appends data as a netstring to buf.
func appendNetstring(buf, data []byte) []byte {
	buf = strconv.AppendInt(buf, int64(len(data)), 10)
	buf = append(buf, ':')
	buf = append(buf, data...)
	return append(buf, ',')
}
