package main

import "time"

// eventDrainTimeout bounds the wait at shutdown for buffered events to
// reach the records store.
const eventDrainTimeout = 30 * time.Second
