package cli

import (
	"flag"
	"strings"

	"github.com/countercyclical/webhooks/internal/bench"
)

// wantsHelp says whether a command's arguments ask for its usage: -h, -help
// or --help anywhere before a "--", even where a value is expected (so that
// `apikey revoke --help` never looks up a key named --help).
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// usageOf is the usage of the command args name (the global usage when it
// names none), for `X --help` on standard output and after a usage error.
func usageOf(args []string) string {
	if len(args) > 0 {
		if usage, ok := commandUsage[args[0]]; ok {
			return usage()
		}
	}
	return usageText
}

// commandUsage holds each command's own usage. Every command of run's
// switch has one (TestEveryCommandHasHelp).
var commandUsage = map[string]func() string{
	"migrate": func() string {
		return `Usage: webhooks migrate up | down N | version

  up        apply River's migrations, then the project's; a no-op when current
  down N    revert the last N of the project's migrations
  version   print the project's migration version

It migrates the database of DATABASE_URL (default ` + DefaultDatabaseURL + `).
`
	},
	"serve": func() string {
		return `Usage: webhooks serve

Serves the management API (/v1), the Webhooks page (/portal/), /healthz,
/readyz, /metrics and River UI (/riverui/) on WEBHOOKS_ADDR, and runs the workers. It takes no arguments.

` + envUsage
	},
	"worker": func() string {
		return `Usage: webhooks worker

Runs the workers alone: expansion and delivery. Run as many as you like,
anywhere that reaches the database. It takes no arguments.

` + envUsage
	},
	"play": func() string {
		var f playFlags
		return `Usage: webhooks play [flags]

A local receiver to point a webhook at: it accepts POSTs on any path,
verifies signatures when given the secret, prints a line per delivery and
shows the last ones at its /.

Flags:
` + flagDefaults(newPlayFlagSet(&f))
	},
	"apikey": func() string {
		return `Usage: webhooks apikey create --workspace W --user U [--name N]
       webhooks apikey revoke ID

  create   make an API key for a member of a workspace; the key alone goes to
           standard output, once (only its hash is kept)
  revoke   revoke an API key by its id (printed by create), not by the key
`
	},
	"portal": func() string {
		return `Usage: webhooks portal --workspace W --user U

Prints a one-time link to the Webhooks page for a member of a workspace, as
the host app gets one from POST /v1/portal/sessions: it opens once, within 5
minutes, a session of 8 hours. The link alone goes to standard output; it is
made under WEBHOOKS_PUBLIC_URL (default http:// and WEBHOOKS_ADDR).
`
	},
	"replay": func() string {
		return `Usage: webhooks replay --webhook W --since T [--until T] [--event-types a,b] [--dry-run] [--follow]

Sends webhook W the events captured from --since (RFC 3339, within the
retention) to --until (default now) again, as POST /v1/webhooks/{id}/replay
does: those its subscription, filters and creator's role choose today,
events from before the webhook included. Each goes as a new message (a new
webhook-id, the event's own eventId), behind live deliveries, at the
webhook's rate limit and in-flight cap; serve or a worker sends them. At
most 100,000 events a replay, one running replay per webhook.

  --event-types   only these types (comma-separated), each one W takes
  --dry-run       print how many events would be sent, and send nothing
  --follow        print its progress every second until it ends

The replay's id goes to standard output.
`
	},
	"demo": func() string {
		return `Usage: webhooks demo

Seeds a demo workspace in DATABASE_URL's database: a user of each role, a
team, a few resources of each type, and prints an API key per role.
`
	},
	"bench": func() string {
		var f bench.Options
		return `Usage: webhooks bench [flags]

Measures the pipeline against River's own rate, in a scratch database made
beside DATABASE_URL's and dropped after.

Flags:
` + flagDefaults(newBenchFlagSet(&f))
	},
	"db": func() string {
		return `Usage: webhooks db ping URL
       webhooks db create

  ping URL   exit 0 when a PostgreSQL server answers at URL (a missing
             database counts as an answer)
  create     create the database of DATABASE_URL when it is missing
`
	},
}

// flagDefaults lists a flag set's flags, spelled with two dashes as this
// command's documentation does.
func flagDefaults(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return strings.ReplaceAll("\n"+b.String(), "\n  -", "\n  --")[1:]
}
