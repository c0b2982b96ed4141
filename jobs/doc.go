// Package jobs holds the River jobs that run in the background: expanding
// outbox rows into deliveries, delivering them, and maintenance, with the
// retry policy they share.
package jobs
