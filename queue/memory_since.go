package queue

import "time"

// putLocked stores c, setting Since to now when c's state differs from the
// stored one, and keeping the stored Since otherwise.
func (s *MemoryStore) putLocked(c Counselor, now time.Time) {
	c.Since = now
	if previous, ok := s.counselors[c.ID]; ok && previous.State == c.State {
		c.Since = previous.Since
	}
	s.counselors[c.ID] = c
}
