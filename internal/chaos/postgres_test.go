package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgServer is a PostgreSQL server this test created (initdb) in a temporary
// directory and runs on a free port, as a child process: the only server
// the test ever stops. As root it runs as the postgres user, which
// PostgreSQL requires.
type pgServer struct {
	t       *testing.T
	bin     string // the directory of initdb and postgres
	dir     string // the temporary directory: data/, the socket, the log
	port    int
	cred    *syscall.Credential
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile *os.File
}

// pgBinDir finds initdb: under /usr/lib/postgresql/*/bin (Debian, newest
// version first), else on PATH.
func pgBinDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return versionOf(found[i]) > versionOf(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb not found under /usr/lib/postgresql/*/bin or on PATH: the chaos test starts a PostgreSQL server of its own (on Debian: apt-get install postgresql)")
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// freePort asks the kernel for a port nobody listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chaos: error finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newPGServer initializes a cluster in a new temporary directory and starts
// it. The server is stopped and the directory removed when the test ends,
// failed or not.
func newPGServer(t *testing.T) *pgServer {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	dir, err := os.MkdirTemp("", "webhooks-chaos-")
	if err != nil {
		t.Fatalf("chaos: error creating the data directory: %v", err)
	}
	s := &pgServer{t: t, bin: bin, dir: dir, port: freePort(t)}
	t.Cleanup(func() {
		s.stop(syscall.SIGQUIT)
		if s.logFile != nil {
			s.logFile.Close()
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("chaos: error removing %s: %v", dir, err)
		}
	})
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("chaos: running as root, and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("chaos: error handing %s to postgres: %v", dir, err)
		}
	}
	s.logFile, err = os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("chaos: error creating the server log: %v", err)
	}
	initdb := s.command("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("chaos: initdb failed: %v\n%s", err, out)
	}
	s.start()
	return s
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

// URL is the connection string of database on this server.
func (s *pgServer) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s", s.port, database)
}

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	// Pdeathsig: should the test binary die without its cleanups (a
	// go test timeout), the server goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// start runs the server and waits until it accepts connections.
func (s *pgServer) start() {
	s.t.Helper()
	s.cmd = s.command("postgres", "-D", s.data(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		// Durability against an OS crash is not what is tried here: a
		// restart (even an immediate one) loses nothing written.
		"-c", "fsync=off",
		"-c", "max_connections=300")
	s.cmd.Stdout, s.cmd.Stderr = s.logFile, s.logFile
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("chaos: error starting postgres: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(exited) }(s.cmd)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-exited:
			s.t.Fatalf("chaos: postgres exited at start; its log:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("chaos: postgres did not accept connections within 2 minutes (%v); its log:\n%s", err, s.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts the server down: SIGQUIT is PostgreSQL's immediate shutdown,
// a crash for every session (recovery runs at the next start), SIGINT its
// fast one. It is killed if it has not gone within a minute.
func (s *pgServer) stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *pgServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return tail(string(b), 4000)
}

// tail is the end of a log, at most n bytes.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// migratedDatabase creates the database webhooks on the test's server,
// migrates it with the binary, as an operator would, and returns its URL
// and a pool on it.
func migratedDatabase(t *testing.T, pg *pgServer, bin string) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	url := pg.URL("webhooks")
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	must(t, err, "connecting to the test's server")
	_, err = admin.Exec(ctx, "CREATE DATABASE webhooks")
	must(t, err, "creating the database")
	admin.Close(ctx)
	migrate := exec.Command(bin, "migrate", "up")
	migrate.Env = append(os.Environ(), "DATABASE_URL="+url)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("chaos: webhooks migrate up failed: %v\n%s", err, out)
	}
	pool, err := pgxpool.New(ctx, url)
	must(t, err, "connecting")
	t.Cleanup(pool.Close)
	return url, pool
}
