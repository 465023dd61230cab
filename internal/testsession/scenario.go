package testsession

// Scenario is the one session type of runtime/storetest's test app: the
// counters, balance, note, list and map of the lost-update races, the
// owner and device of per-owner logout, and the email, roles and flash of
// the fault scenarios.
//
//sessiongen:session name=Scenario
type scenarioData struct {
	C0, C1, C2, C3, C4, C5, C6, C7       int
	C8, C9, C10, C11, C12, C13, C14, C15 int
	Balance                              int64 `session:"bal,conflict=error"`
	Note                                 string
	Items                                []string       `session:"items"`
	Tags                                 map[string]int `session:"tags"`
	UserID                               int64          `session:"uid,owner"`
	Device                               string         `session:"dev"`
	Email                                string         `session:"email"`
	Roles                                []string       `session:"roles"`
	Flash                                string         `session:"flash,omitempty"`
}

// Incr adds one to counter i.
func (s *Scenario) Incr(i int) {
	get := []func() int{s.C0, s.C1, s.C2, s.C3, s.C4, s.C5, s.C6, s.C7, s.C8, s.C9, s.C10, s.C11, s.C12, s.C13, s.C14, s.C15}
	set := []func(int){s.SetC0, s.SetC1, s.SetC2, s.SetC3, s.SetC4, s.SetC5, s.SetC6, s.SetC7, s.SetC8, s.SetC9, s.SetC10, s.SetC11, s.SetC12, s.SetC13, s.SetC14, s.SetC15}
	set[i](get[i]() + 1)
}

// Sum returns the total of the counters.
func (s *Scenario) Sum() int {
	return s.C0() + s.C1() + s.C2() + s.C3() + s.C4() + s.C5() + s.C6() + s.C7() +
		s.C8() + s.C9() + s.C10() + s.C11() + s.C12() + s.C13() + s.C14() + s.C15()
}
