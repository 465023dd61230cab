// The previous release's alltypes package, as it was.
package generation3

import (
	"errors"
	"net/netip"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Named types of the primitive kinds.
type (
	Level  int8
	Name   string
	Flag   bool
	Token  []byte
	Tags   []string
	Scores map[string]int
	Ratio  float32
)

// Address is a nested struct with its own keys.
type Address struct {
	Street string `session:"street"`
	Zip    string `session:"zip,omitempty"`
	Tags   []string
	note   string // unexported: not stored
}

// Meta is embedded in the session: its fields are promoted, and stored
// under their own keys.
type Meta struct {
	Version int `session:"ver"`
	Labels  []string
}

// Color encodes itself as text.
type Color int

// MarshalText implements encoding.TextMarshaler.
func (c Color) MarshalText() ([]byte, error) {
	switch c {
	case 1:
		return []byte("red"), nil
	case 2:
		return []byte("green"), nil
	}
	return []byte("none"), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Color) UnmarshalText(b []byte) error {
	switch string(b) {
	case "red":
		*c = 1
	case "green":
		*c = 2
	case "none":
		*c = 0
	default:
		return errors.New("unknown color " + string(b))
	}
	return nil
}

// Point encodes itself with msgpack as a two-element array.
type Point struct{ x, y int }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (p *Point) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeInt(int64(p.x)); err != nil {
		return err
	}
	return enc.EncodeInt(int64(p.y))
}

// DecodeMsgpack implements msgpack.CustomDecoder.
func (p *Point) DecodeMsgpack(dec *msgpack.Decoder) error {
	if n, err := dec.DecodeArrayLen(); err != nil || n != 2 {
		return errors.New("point: want a two-element array")
	}
	x, err := dec.DecodeInt()
	if err != nil {
		return err
	}
	y, err := dec.DecodeInt()
	p.x, p.y = x, y
	return err
}

// Tree is a recursive type through a slice: legal Go, no pointer needed.
type Tree []Tree

// Node is a recursive type, through a pointer.
type Node struct {
	Value int
	Next  *Node
}

// All has a field of every supported kind.
//
//sessiongen:session name=All
type allData struct {
	B       bool
	I       int
	I8      int8
	I16     int16
	I32     int32
	I64     int64
	U       uint
	U8      uint8
	U16     uint16
	U32     uint32
	U64     uint64
	F32     float32
	F64     float64
	S       string
	Raw     []byte
	T       time.Time
	D       time.Duration
	Lvl     Level
	N       Name
	Fl      Flag
	R       Ratio
	Tok     Token
	Strs    []string
	Ints    []int64
	Nested  [][]string
	M       map[string]int
	MI      map[int64]string
	MU      map[uint16]bool
	MS      map[string][]Address
	MN      map[Name]Level
	P       *int
	PA      *Address
	A       Address
	As      []Address
	Tg      Tags
	Sc      Scores
	List    *Node
	Omit    string   `session:"omit,omitempty,max=8"`
	Token16 [16]byte `session:"id"`
	Grid    [2][3]int8
	Addr    netip.Addr
	PAddr   *netip.Addr
	Addrs   []netip.Addr
	Col     Color
	Pt      Point
	Pts     map[string]Point
	Msg     string `session:"msg,flash"`
	Tr      Tree
	Meta
	OmitS []int  `session:"omits,omitempty"`
	Skip  string `session:"-"`
	priv  int
}
