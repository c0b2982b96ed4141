// Package jobs holds the River job kinds: their args, their workers, the
// client that runs them, and the Runner that starts and stops it with the
// outbox listener and the heartbeat. outbox_expand expands captured events
// (package expansion), webhook_deliver delivers a message (package
// delivery), webhooks_retention keeps the logs' partitions (package
// retention), webhook_replay sends a time range again, and bench_noop is
// the bench's measure of River's own rate.
//
// It imports the mechanisms (delivery, expansion, retention, liveness),
// riverjob, metrics and db.
package jobs
