package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/docker-credential-acr/docker-credential-acr/token/safetext"
)

// envLogFile names a file that receives the log too, for machines where
// stderr goes nowhere (the kubelet, CI).
const envLogFile = "DOCKER_CREDENTIAL_ACR_LOG_FILE"

// logFileMax caps the log file: past it the file is renamed to <file>.1
// (replacing the previous one) and a new one begun, so the log never takes
// more than twice this.
const logFileMax = 1 << 20

// commandLogger is the logger of every command: stderr at the level of
// DOCKER_CREDENTIAL_ACR_LOG, and the file of DOCKER_CREDENTIAL_ACR_LOG_FILE
// at the same level. The file is opened only when a record at the level is
// written, so a cached get that logs nothing touches no file. Both
// destinations go through the redactor. The returned close flushes
// nothing (writes are unbuffered) but closes the file.
func commandLogger(stderr io.Writer, getenv func(string) string) (*slog.Logger, func(), error) {
	level, err := parseLevel(getenv("DOCKER_CREDENTIAL_ACR_LOG"))
	opts := &slog.HandlerOptions{Level: level}
	h := slog.Handler(slog.NewTextHandler(redactingWriter{stderr}, opts))
	closeFn := func() {}
	if path := getenv(envLogFile); path != "" {
		f := &rotatingFile{path: path, max: logFileMax, stderr: stderr}
		h = fanout{h, slog.NewTextHandler(redactingWriter{f}, opts)}
		closeFn = f.close
	}
	return slog.New(h), closeFn, err
}

// redactingWriter passes each log record (slog writes one per call)
// through the project's redactor: the last line of defence, should a
// server echo a token into a message that is logged.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, safetext.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fanout sends each record to both handlers.
type fanout [2]slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	return f[0].Enabled(ctx, l) || f[1].Enabled(ctx, l)
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	return fanout{f[0].WithAttrs(as), f[1].WithAttrs(as)}
}

func (f fanout) WithGroup(name string) slog.Handler {
	return fanout{f[0].WithGroup(name), f[1].WithGroup(name)}
}

// rotatingFile is a log file opened on first write, mode 0600, rotated
// once to <path>.1 when it would grow past max. A file that cannot be
// opened is reported once on stderr; the log then goes to stderr only.
type rotatingFile struct {
	path   string
	max    int64
	stderr io.Writer

	mu     sync.Mutex
	f      *os.File
	size   int64
	failed bool
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed {
		return len(p), nil
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			r.fail(err)
			return len(p), nil
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		r.f.Close()
		r.f = nil
		if err := os.Rename(r.path, r.path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.fail(err)
			return len(p), nil
		}
		if err := r.open(); err != nil {
			r.fail(err)
			return len(p), nil
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return errors.New("not a regular file")
	}
	// A file made by someone else's umask, or by hand, is narrowed: the
	// log names registries, identities and tenants.
	if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return err
		}
	}
	r.f, r.size = f, fi.Size()
	return nil
}

func (r *rotatingFile) fail(err error) {
	r.failed = true
	fmt.Fprintf(r.stderr, "docker-credential-acr: %s=%q cannot be written (%v); logging to stderr only. Name a writable file\n", envLogFile, r.path, err)
}

func (r *rotatingFile) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
