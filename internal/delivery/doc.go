// Package delivery makes the deliveries of one process: it loads the
// messages of concurrent deliveries in one query, caps the deliveries under
// way per webhook and honours rate limits (the gates), signs and POSTs the
// envelope through a transport that dials only allowed addresses, and
// records the attempts in batches. A message's states, an attempt's error
// classes and its triggers are defined here, once.
//
// It knows nothing of River's API: the jobs package makes a delivery of
// each webhook_deliver job. It imports batch, netguard, riverjob (parking a
// backlog writes River's table), db and webhook.
package delivery
