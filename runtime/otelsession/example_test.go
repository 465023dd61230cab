package otelsession_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
)

// Record every store operation of the sessions as a span and in the
// metrics of OpenTelemetry's global providers, and tie the runtime's log
// lines to their traces.
func ExampleNew() {
	m, err := testsession.NewVisitManager(runtime.Config{
		Secrets:  [][]byte{bytes.Repeat([]byte("k"), 32)},
		Observer: otelsession.New(),
		Logger:   slog.New(otelsession.LogHandler(slog.NewTextHandler(os.Stderr, nil))),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println("observed")
	// Output: observed
}
