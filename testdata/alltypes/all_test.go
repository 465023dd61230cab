package alltypes

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/wire"
	"github.com/vmihailenco/msgpack/v5"
)

var (
	addr  = netip.MustParseAddr("192.0.2.7")
	addr6 = netip.MustParseAddr("2001:db8::1")
)

func full() allData {
	seven := 7
	return allData{
		B: true, I: -1 << 40, I8: -128, I16: -32768, I32: -1 << 31, I64: -1 << 63,
		U: 1 << 40, U8: 255, U16: 65535, U32: 1<<32 - 1, U64: 1<<64 - 1,
		F32: 1.5, F64: -2.25e300, S: "héllo", Raw: []byte{0, 1, 2},
		T: time.Date(2026, 11, 22, 7, 0, 0, 123456789, time.FixedZone("X", 3600)), D: 90 * time.Second,
		Lvl: -3, N: "ada", Fl: true, R: 0.25, Tok: Token("tok"),
		Strs: []string{"a", ""}, Ints: []int64{1, -1}, Nested: [][]string{{"x"}, nil, {}},
		M: map[string]int{"a": 1, "b": 2}, MI: map[int64]string{-5: "m"}, MU: map[uint16]bool{9: true},
		MS: map[string][]Address{"home": {{Street: "Main", Tags: []string{"t"}}}},
		MN: map[Name]Level{"x": 4},
		P:  &seven, PA: &Address{Street: "Side", Zip: "123"}, A: Address{Street: "A st"},
		As: []Address{{Street: "1"}, {Street: "2", Zip: "z"}},
		Tg: Tags{"t1"}, Sc: Scores{"s": 3},
		List: &Node{Value: 1, Next: &Node{Value: 2}},
		Omit: "o", OmitS: []int{1},
		Token16: [16]byte{1, 2, 3, 15: 16}, Grid: [2][3]int8{{1, 2, 3}, {-1, -2, -3}},
		Addr: addr, PAddr: &addr6, Addrs: []netip.Addr{addr, addr6},
		Col: 2, Pt: Point{3, 4}, Pts: map[string]Point{"a": {5, 6}},
		Msg: "once", Tr: Tree{{}, {{}, nil}},
		Meta: Meta{Version: 3, Labels: []string{"x"}},
	}
}

func newEncoder(w *bytes.Buffer) *msgpack.Encoder { return msgpack.NewEncoder(w) }

func encode(t *testing.T, s *All) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.EncodeMsgpack(msgpack.NewEncoder(&buf)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode(t *testing.T, b []byte) *All {
	t.Helper()
	s := new(All)
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	if err := s.DecodeMsgpack(dec); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.PeekCode(); err == nil {
		t.Fatal("DecodeMsgpack left bytes unread")
	}
	return s
}

func TestRoundTripEveryKind(t *testing.T) {
	in := &All{data: full()}
	out := decode(t, encode(t, in))
	want, got := in.data, out.data
	if !got.T.Equal(want.T) {
		t.Errorf("time %v, want an instant equal to %v", got.T, want.T)
	}
	got.T, want.T = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the data:\n got %+v\nwant %+v", got, want)
	}
}

func TestZeroValueRoundTripsAndOmitsEmpty(t *testing.T) {
	b := encode(t, new(All))
	var m map[string]any
	if err := msgpack.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"omit", "omits", "Skip", "priv"} {
		if _, ok := m[k]; ok {
			t.Errorf("key %q written for a zero value or an unstored field", k)
		}
	}
	if _, ok := m["B"]; !ok {
		t.Error("field B missing: keys default to the field name")
	}
	if got := decode(t, b).data; !reflect.DeepEqual(got, allData{T: got.T}) || !got.T.IsZero() {
		t.Errorf("zero value came back as %+v", got)
	}
}

func TestEncodingIsDeterministic(t *testing.T) {
	first := encode(t, &All{data: full()})
	for range 20 { // map iteration order is random; the bytes must not be
		if again := encode(t, &All{data: full()}); !bytes.Equal(first, again) {
			t.Fatal("two encodings of the same value differ")
		}
	}
}

func TestUnknownKeysAreKept(t *testing.T) {
	in, _ := msgpack.Marshal(map[string]any{"S": "known", "future": []any{1, "two"}})
	s := decode(t, in)
	if s.data.S != "known" {
		t.Fatalf("S = %q", s.data.S)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(encode(t, s), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m["future"], []any{int8(1), "two"}) {
		t.Fatalf("unknown field came back as %#v", m["future"])
	}
}

func TestDecodeRejectsWrongTypesAndOverflow(t *testing.T) {
	for name, v := range map[string]any{
		"string into int":   map[string]any{"I": "x"},
		"300 into int8":     map[string]any{"I8": 300},
		"-1 into uint":      map[string]any{"U": -1},
		"2^63 into int64":   map[string]any{"I64": uint64(1) << 63},
		"map into slice":    map[string]any{"Strs": map[string]any{}},
		"int key into map":  map[string]any{"M": map[int]int{1: 1}},
		"not a map at all":  []any{1, 2},
		"non-string key":    map[int]any{1: 2},
		"struct from array": map[string]any{"A": []any{1}},
	} {
		b, _ := msgpack.Marshal(v)
		err := new(All).DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b)))
		if err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestDecodeStartsFromZero(t *testing.T) {
	s := &All{data: full()}
	b, _ := msgpack.Marshal(map[string]any{"S": "only"})
	if err := s.DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.data, allData{S: "only"}) {
		t.Fatalf("stale fields survived decoding: %+v", s.data)
	}
	// A struct field given in part, over one set in full: the keys not
	// given read as zero, also when the field alone is decoded (a lazy read).
	s = &All{data: full()}
	s.data.A = Address{Street: "old", Zip: "123", Tags: []string{"t"}}
	rec, _ := msgpack.Marshal(map[string]any{"street": "x"})
	rec = append(wire.AppendString(nil, allSchema.Keys[allFieldA]), rec...) // the key, then the value
	if _, _, err := allSchema.Decode(s, rec, 0, 1, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.data.A, Address{Street: "x"}) {
		t.Fatalf("stale keys of a struct field survived decoding it: %+v", s.data.A)
	}
}

// Through the middleware: setters mark only their field, and the record
// holds exactly what was set.
func TestSettersThroughTheMiddleware(t *testing.T) {
	store := runtime.NewMemoryStore()
	defer store.Close()
	mgr, err := NewAllManager(runtime.Config{Store: store, Secrets: [][]byte{bytes.Repeat([]byte("s"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	var cookie string
	serve := func(f func(*All)) {
		h := mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f(AllFrom(r.Context())) }))
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
	}
	d := full()
	serve(func(s *All) {
		s.SetMS(d.MS)
		s.SetList(d.List)
		s.SetT(d.T)
		s.SetU64(d.U64)
	})
	serve(func(s *All) {
		s.SetU64(s.U64()) // unchanged: no write needed
		s.UpdateStrs(func(v *[]string) { *v = append(*v, "u") })
		s.List().Next.Value = 20 // in place, through a pointer
	})
	serve(func(s *All) {
		if !reflect.DeepEqual(s.MS(), d.MS) || s.List().Next.Value != 20 || !s.T().Equal(d.T) || s.U64() != d.U64 {
			t.Errorf("read back MS=%v List.Next=%d T=%v U64=%d", s.MS(), s.List().Next.Value, s.T(), s.U64())
		}
		if strings.Join(s.Strs(), ",") != "u" {
			t.Errorf("Strs = %q", s.Strs())
		}
	})
	if !strings.Contains(cookie, "__Host-session=") {
		t.Fatalf("cookie %q", cookie)
	}
}

// TestGoldenBytes pins the wire format: keys, their order, the integer
// and string encodings. A change here breaks stored sessions.
func TestGoldenBytes(t *testing.T) {
	s := &All{data: allData{B: true, I8: -3, S: "hi", Strs: []string{"a"}, M: map[string]int{"b": 2, "a": 1}, Omit: "o"}}
	got := encode(t, s)
	var want bytes.Buffer
	want.Write([]byte{0xde, 0x00, 50}) // map16: 51 stored fields, less omits (empty, omitempty)
	want.Write([]byte{0xa1, 'B', 0xc3})
	want.Write([]byte{0xa1, 'I', 0x00})
	want.Write([]byte{0xa2, 'I', '8', 0xfd})
	if !bytes.HasPrefix(got, want.Bytes()) {
		t.Fatalf("encoding starts % x, want % x", got[:min(len(got), want.Len())], want.Bytes())
	}
	for _, part := range [][]byte{
		{0xa1, 'S', 0xa2, 'h', 'i'},                         // string
		{0xa4, 'S', 't', 'r', 's', 0x91, 0xa1, 'a'},         // slice
		{0xa1, 'M', 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02}, // map, keys sorted
		{0xa4, 'o', 'm', 'i', 't', 0xa1, 'o'},               // omitempty, set
		{0xa2, 'M', 'I', 0xc0},                              // nil map
	} {
		if !bytes.Contains(got, part) {
			t.Errorf("encoding lacks % x", part)
		}
	}
	if bytes.Contains(got, []byte("omits")) {
		t.Error("an empty omitempty field was written")
	}
}

// An encoding or decoding error names the field it is about, also when
// the field is one of several encoded or decoded together.
func TestCodecErrorsNameTheField(t *testing.T) {
	var buf bytes.Buffer
	err := (&All{data: allData{S: "x", Omit: "123456789"}}).EncodeMsgpack(msgpack.NewEncoder(&buf))
	if err == nil || !strings.Contains(err.Error(), `field "omit"`) {
		t.Fatalf("encoding a 9-byte Omit (max=8): %v, want an error naming the field", err)
	}
	b, _ := msgpack.Marshal(map[string]any{"s": "x", "omit": "123456789", "later": 1})
	err = new(All).DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b)))
	if err == nil || !strings.Contains(err.Error(), `field "omit"`) {
		t.Fatalf("decoding a 9-byte omit: %v, want an error naming the field", err)
	}
}

func TestMaxLengthIsEnforcedBothWays(t *testing.T) {
	var buf bytes.Buffer
	err := (&All{data: allData{Omit: "123456789"}}).EncodeMsgpack(msgpack.NewEncoder(&buf))
	if err == nil || !strings.Contains(err.Error(), "max=8") {
		t.Fatalf("encoding a 9-byte Omit (max=8): %v, want an error naming the bound", err)
	}
	b, _ := msgpack.Marshal(map[string]any{"omit": "123456789"})
	err = new(All).DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b)))
	if err == nil || !strings.Contains(err.Error(), "max=8") {
		t.Fatalf("decoding a 9-byte omit: %v, want an error naming the bound", err)
	}
	b, _ = msgpack.Marshal(map[string]any{"omit": "12345678"})
	if err := new(All).DecodeMsgpack(msgpack.NewDecoder(bytes.NewReader(b))); err != nil {
		t.Fatalf("decoding 8 bytes: %v", err)
	}
}

func TestPopReadsOnce(t *testing.T) {
	s := &All{data: allData{Msg: "saved"}}
	if got := s.PopMsg(); got != "saved" {
		t.Fatalf("first PopMsg = %q", got)
	}
	if got := s.PopMsg(); got != "" {
		t.Fatalf("second PopMsg = %q, want empty", got)
	}
}

func TestPromotedFieldsHaveTheirOwnKeys(t *testing.T) {
	s := &All{data: full()}
	if s.Version() != 3 || len(s.Labels()) != 1 {
		t.Fatalf("promoted accessors: %d %v", s.Version(), s.Labels())
	}
	var m map[string]msgpack.RawMessage
	if err := msgpack.Unmarshal(encode(t, s), &m); err != nil {
		t.Fatal(err)
	}
	if m["ver"] == nil || m["Labels"] == nil || m["Meta"] != nil {
		t.Fatalf("keys ver=%x Labels=%x Meta=%x: want the promoted fields under their own keys", m["ver"], m["Labels"], m["Meta"])
	}
	if green, _ := msgpack.Marshal([]byte("green")); !bytes.Equal(m["Col"], green) {
		t.Fatalf("a TextMarshaler field is stored as %x, want %x", m["Col"], green)
	}
}
