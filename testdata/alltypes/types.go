// Package alltypes stores a field of every kind the generator supports.
package alltypes

import "time"

//go:generate go tool sessiongen

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

// Node is a recursive type, through a pointer.
type Node struct {
	Value int
	Next  *Node
}

// All has a field of every supported kind.
//
//sessiongen:session name=All
type allData struct {
	B      bool
	I      int
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U      uint
	U8     uint8
	U16    uint16
	U32    uint32
	U64    uint64
	F32    float32
	F64    float64
	S      string
	Raw    []byte
	T      time.Time
	D      time.Duration
	Lvl    Level
	N      Name
	Fl     Flag
	R      Ratio
	Tok    Token
	Strs   []string
	Ints   []int64
	Nested [][]string
	M      map[string]int
	MI     map[int64]string
	MU     map[uint16]bool
	MS     map[string][]Address
	MN     map[Name]Level
	P      *int
	PA     *Address
	A      Address
	As     []Address
	Tg     Tags
	Sc     Scores
	List   *Node
	Omit   string `session:"omit,omitempty,max=8"`
	OmitS  []int  `session:"omits,omitempty"`
	Skip   string `session:"-"`
	priv   int
}
