// Package jobs holds the River jobs that run in the background: expanding
// outbox rows into deliveries (outbox_expand) and delivering them
// (webhook_deliver), with the retry schedule they share, and the River client
// that runs them.
package jobs
