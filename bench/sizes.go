package bench

// Sessions of 1, 10 and 50 fields, for how A and B grow with the size of
// the session.

// Size1 has 1 string field.
//
//sessiongen:session name=Size1
type size1Data struct {
	F0 string `session:"f0"`
}

// Size10 has 10 string fields.
//
//sessiongen:session name=Size10
type size10Data struct {
	F0 string `session:"f0"`
	F1 string `session:"f1"`
	F2 string `session:"f2"`
	F3 string `session:"f3"`
	F4 string `session:"f4"`
	F5 string `session:"f5"`
	F6 string `session:"f6"`
	F7 string `session:"f7"`
	F8 string `session:"f8"`
	F9 string `session:"f9"`
}

// Size50 has 50 string fields.
//
//sessiongen:session name=Size50
type size50Data struct {
	F0  string `session:"f0"`
	F1  string `session:"f1"`
	F2  string `session:"f2"`
	F3  string `session:"f3"`
	F4  string `session:"f4"`
	F5  string `session:"f5"`
	F6  string `session:"f6"`
	F7  string `session:"f7"`
	F8  string `session:"f8"`
	F9  string `session:"f9"`
	F10 string `session:"f10"`
	F11 string `session:"f11"`
	F12 string `session:"f12"`
	F13 string `session:"f13"`
	F14 string `session:"f14"`
	F15 string `session:"f15"`
	F16 string `session:"f16"`
	F17 string `session:"f17"`
	F18 string `session:"f18"`
	F19 string `session:"f19"`
	F20 string `session:"f20"`
	F21 string `session:"f21"`
	F22 string `session:"f22"`
	F23 string `session:"f23"`
	F24 string `session:"f24"`
	F25 string `session:"f25"`
	F26 string `session:"f26"`
	F27 string `session:"f27"`
	F28 string `session:"f28"`
	F29 string `session:"f29"`
	F30 string `session:"f30"`
	F31 string `session:"f31"`
	F32 string `session:"f32"`
	F33 string `session:"f33"`
	F34 string `session:"f34"`
	F35 string `session:"f35"`
	F36 string `session:"f36"`
	F37 string `session:"f37"`
	F38 string `session:"f38"`
	F39 string `session:"f39"`
	F40 string `session:"f40"`
	F41 string `session:"f41"`
	F42 string `session:"f42"`
	F43 string `session:"f43"`
	F44 string `session:"f44"`
	F45 string `session:"f45"`
	F46 string `session:"f46"`
	F47 string `session:"f47"`
	F48 string `session:"f48"`
	F49 string `session:"f49"`
}
