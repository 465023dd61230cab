package testsession

// Counters has one counter per concurrent client, to prove that
// overlapping requests that change different fields lose nothing, a
// balance whose concurrent changes must fail rather than overwrite, and a
// list and a map that overlapping requests update through their Update
// methods.
//
//sessiongen:session name=Counters
type countersData struct {
	C0, C1, C2, C3, C4, C5, C6, C7       int
	C8, C9, C10, C11, C12, C13, C14, C15 int
	Balance                              int64 `session:"bal,conflict=error"`
	Note                                 string
	Items                                []string       `session:"items"`
	Tags                                 map[string]int `session:"tags"`
}

// Incr adds one to counter i.
func (s *Counters) Incr(i int) {
	get := []func() int{s.C0, s.C1, s.C2, s.C3, s.C4, s.C5, s.C6, s.C7, s.C8, s.C9, s.C10, s.C11, s.C12, s.C13, s.C14, s.C15}
	set := []func(int){s.SetC0, s.SetC1, s.SetC2, s.SetC3, s.SetC4, s.SetC5, s.SetC6, s.SetC7, s.SetC8, s.SetC9, s.SetC10, s.SetC11, s.SetC12, s.SetC13, s.SetC14, s.SetC15}
	set[i](get[i]() + 1)
}

// Sum returns the total of the counters.
func (s *Counters) Sum() int {
	return s.C0() + s.C1() + s.C2() + s.C3() + s.C4() + s.C5() + s.C6() + s.C7() +
		s.C8() + s.C9() + s.C10() + s.C11() + s.C12() + s.C13() + s.C14() + s.C15()
}
