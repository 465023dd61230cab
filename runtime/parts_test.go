package runtime

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/internal/mp"
	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// pair is a hand-written session type of two fields, a (an int) and b (a
// list of strings), for testing the parts of a session without
// generated code.
type pair struct {
	rt wire.Handle
	A  int64
	B  []string
}

func (p *pair) EncodeMsgpack(enc *msgpack.Encoder) error { return p.rt.Encode(enc, &pairSchema, p) }
func (p *pair) DecodeMsgpack(dec *msgpack.Decoder) error {
	p.A, p.B = 0, nil
	return p.rt.Decode(dec, &pairSchema, p)
}

var pairSchema = wire.Schema{
	Name:   "Pair",
	Keys:   []string{"a", "b"},
	Handle: func(d wire.Data) *wire.Handle { return &d.(*pair).rt },
	Decode: func(d wire.Data, b []byte, i, n int, unknown []wire.Entry) (int, []wire.Entry, error) {
		p := d.(*pair)
		for ; n > 0; n-- {
			key, j, err := wire.ReadKey(b, i)
			if err != nil {
				return i, unknown, err
			}
			switch string(key) {
			case "a":
				p.A, i, err = mp.ReadInt(b, j, 64)
			case "b":
				var m int
				m, i, err = mp.ReadArrayLen(b, j)
				p.B = nil
				for ; err == nil && m > 0; m-- {
					var s string
					s, i, err = mp.ReadString(b, i)
					p.B = append(p.B, s)
				}
			default:
				i, err = wire.Skip(b, j)
				unknown = append(unknown, wire.Entry{Key: key, Val: b[j:i]})
			}
			if err != nil {
				return i, unknown, err
			}
		}
		return i, unknown, nil
	},
	Append: func(d wire.Data, b []byte, r wire.Range) ([]byte, int, error) {
		p, n := d.(*pair), 0
		if r.Has(0) {
			b, n = wire.AppendInt(wire.AppendString(b, "a"), p.A), n+1
		}
		if r.Has(1) && p.B != nil {
			b = mp.AppendArrayLen(wire.AppendString(b, "b"), len(p.B))
			for _, s := range p.B {
				b = wire.AppendString(b, s)
			}
			n++
		}
		return b, n, nil
	},
}

// pairRecord is a record holding a and, unless b is nil, b.
func pairRecord(a int64, b []string) []byte {
	p := &pair{A: a, B: b}
	rec, _, _ := pairSchema.Append(p, nil, wire.Range{From: 0, To: 2})
	n := 1
	if b != nil {
		n = 2
	}
	return append(wire.AppendMapLen(appendHeader(nil, header{created: 100, issued: 100}), n), rec...)
}

func newPairManager(t *testing.T, strict ...string) *Manager {
	t.Helper()
	sc := pairSchema
	sc.ConflictError = strict
	m, err := NewManager[pair](Config{Secrets: [][]byte{bytes.Repeat([]byte("p"), 32)}}, &sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestPlanFlush(t *testing.T) {
	dirtyA := changes{}
	dirtyA.dirty.set(0)
	for _, tc := range []struct {
		name   string
		stored bool
		chg    changes
		want   plan
	}{
		{"new and untouched: nothing", false, changes{}, plan{}},
		{"new, a field set: write", false, dirtyA, plan{write: true}},
		{"stored, untouched: touch when due", true, changes{}, plan{touch: touchIfDue}},
		{"stored, Touch: touch now", true, changes{touch: true}, plan{touch: touchNow}},
		{"stored, a field set: write, no touch", true, dirtyA, plan{write: true}},
		{"RememberMe: write", true, changes{remember: rememberOn}, plan{write: true}},
		{"Regenerate: write and drop the old", false, changes{rewrite: true, drop: "old"}, plan{write: true, drop: "old"}},
		{"Destroy: drop only", false, changes{drop: "old"}, plan{drop: "old"}},
		{"Destroy then Touch: no record to touch", false, changes{drop: "old", touch: true}, plan{drop: "old"}},
	} {
		b := baseline{stored: tc.stored}
		if got := planFlush(&b, &tc.chg); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestRenewDue(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		base  baseline
		after time.Duration
		want  bool
	}{
		{"old enough", baseline{stored: true, ver: 1, hdr: header{issued: 900}}, 100 * time.Second, true},
		{"a second too young", baseline{stored: true, ver: 1, hdr: header{issued: 901}}, 100 * time.Second, false},
		{"renewal off", baseline{stored: true, ver: 1, hdr: header{issued: 1}}, 0, false},
		{"written by this request: version unknown", baseline{stored: true, hdr: header{issued: 1}}, time.Second, false},
		{"not stored", baseline{ver: 1, hdr: header{issued: 1}}, time.Second, false},
		{"never issued (an old record)", baseline{stored: true, ver: 1}, time.Second, false},
	} {
		if got := renewDue(&tc.base, now, tc.after); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMergeOnto: what a save writes when another request saved first.
func TestMergeOnto(t *testing.T) {
	for _, tc := range []struct {
		name        string
		strict      []string
		base, fresh []byte // the record this request loaded, and the newer one
		mineA       int64  // this request's values
		mineB       []string
		blind       []int // fields this request set
		update      func(p *pair)
		wantA       int64
		wantB       []string
		wantErr     error
		overwritten uint64
	}{
		{name: "a field only the other changed is kept",
			base: pairRecord(1, []string{"x"}), fresh: pairRecord(1, []string{"x", "y"}),
			mineA: 2, mineB: []string{"x"}, blind: []int{0},
			wantA: 2, wantB: []string{"x", "y"}},
		{name: "a blind write over the other's change: the later wins, counted",
			base: pairRecord(1, nil), fresh: pairRecord(5, nil),
			mineA: 2, blind: []int{0},
			wantA: 2, overwritten: 1},
		{name: "conflict=error refuses it",
			strict: []string{"a"},
			base:   pairRecord(1, nil), fresh: pairRecord(5, nil),
			mineA: 2, blind: []int{0},
			wantErr: ErrConflict},
		{name: "an update is replayed on the other's value",
			base: pairRecord(0, []string{"x"}), fresh: pairRecord(0, []string{"x", "y"}),
			mineB: []string{"x"}, update: func(p *pair) { p.B = append(p.B, "z") },
			wantB: []string{"x", "y", "z"}},
		{name: "no base: every changed field counts as changed by the other",
			fresh: pairRecord(5, []string{"q"}),
			mineB: []string{"x"}, update: func(p *pair) { p.B = append(p.B, "z") },
			wantA: 5, wantB: []string{"q", "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newPairManager(t, tc.strict...)
			d := &pair{A: tc.mineA, B: tc.mineB}
			var c changes
			for _, i := range tc.blind {
				c.markBlind(i)
			}
			if tc.update != nil {
				c.tx = new(fieldTx)
				tc.update(d)
				c.dirty.set(1)
				c.tx.updates = append(c.tx.updates, fieldUpdate{i: 1, apply: func() { tc.update(d) }})
			}
			var b baseline
			ours, _, _ := b.appendRecord(&m.schema, d, header{created: 100, issued: 100})
			ours = bytes.Clone(ours)
			rec, h, err := m.mergeOnto(context.Background(), &c, &b, d, header{}, ours, tc.base, tc.fresh, "k")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.created != 100 {
				t.Errorf("header %+v: not the newer record's", h)
			}
			var got pair
			_, fs, err := entries(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				e := append(wire.AppendString(nil, string(f.Key)), f.Val...)
				if _, _, err := pairSchema.Decode(&got, e, 0, 1, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got.A != tc.wantA || !slices.Equal(got.B, tc.wantB) {
				t.Errorf("merged a=%d b=%q, want a=%d b=%q", got.A, got.B, tc.wantA, tc.wantB)
			}
			if n := m.Stats().Overwritten; n != tc.overwritten {
				t.Errorf("Overwritten %d, want %d", n, tc.overwritten)
			}
		})
	}
}

// TestChangedFrom: a field handed out and changed in place is told from
// one that was not, for each shape of change.
func TestChangedFrom(t *testing.T) {
	was, _ := fieldValue(&pairSchema, &pair{B: []string{"x", "y"}}, 1, nil)
	for _, tc := range []struct {
		name string
		b    []string
		want bool
	}{
		{"unchanged", []string{"x", "y"}, false},
		{"an element changed", []string{"x", "z"}, true},
		{"appended", []string{"x", "y", "z"}, true},
		{"truncated", []string{"x"}, true},
		{"emptied to nil (omitted)", nil, true},
	} {
		for _, buf := range []*mp.Buffer{nil, mp.Buffers.Get().(*mp.Buffer)} {
			if got := changedFrom(&pairSchema, &pair{B: tc.b}, 1, was, buf); got != tc.want {
				t.Errorf("%s (buffer %v): %v, want %v", tc.name, buf != nil, got, tc.want)
			}
		}
	}
}
