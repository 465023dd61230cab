package runtime_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/sessiongen/sessiongen/internal/testsession"
	"github.com/vmihailenco/msgpack/v5"
)

// onlyWriter hides bytes.Buffer's other methods (msgpack's Encoder uses
// them when it can).
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// TestEncodeIntoAnyWriter: EncodeMsgpack writes the same bytes into a
// bytes.Buffer, after what it already holds, and into any other writer,
// and they decode back to the same session.
func TestEncodeIntoAnyWriter(t *testing.T) {
	serve, done := scenario(t, false, func(v *testsession.Visit, _ int) {
		fillWorkload(v)
		direct := bytes.NewBufferString("prefix")
		if err := v.EncodeMsgpack(msgpack.NewEncoder(direct)); err != nil {
			t.Fatal(err)
		}
		var other bytes.Buffer
		if err := v.EncodeMsgpack(msgpack.NewEncoder(onlyWriter{&other})); err != nil {
			t.Fatal(err)
		}
		if got := direct.Bytes(); string(got[:6]) != "prefix" || !bytes.Equal(got[6:], other.Bytes()) {
			t.Fatalf("into a bytes.Buffer % x, into a writer % x", got, other.Bytes())
		}
		back := new(testsession.Visit)
		if err := back.DecodeMsgpack(msgpack.NewDecoder(&other)); err != nil {
			t.Fatal(err)
		}
		if back.Email() != v.Email() || len(back.Cart()) != 3 || back.Prefs()["theme"] != "dark" {
			t.Fatalf("decoded %q %v %v", back.Email(), back.Cart(), back.Prefs())
		}
	})
	defer done()
	serve(0)
}
