// Package bench is `webhooks bench`: the whole pipeline measured in a
// scratch database beside DATABASE_URL's, against River's own job rate on
// the same settings; its phases (saturation, latency, the noisy neighbour,
// filters, ordered webhooks), the soak against a long history, and the
// report.
//
// It imports jobs, api, auth, delivery, harness, netguard, pgurl, db and
// sql/migrations; only cli imports it.
package bench
