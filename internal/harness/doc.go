// Package harness runs the pipeline for those that measure it and those
// that try to break it (the bench and the chaos test): `webhooks worker`
// child processes, started and stopped, each with its log and a readiness
// pipe (package readiness); and a receiver that counts every delivery's
// webhook-id, the duplicates, and when each arrived.
//
// It imports readiness and webhook.
package harness
