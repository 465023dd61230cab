package generator

import "testing"

func TestCompatible(t *testing.T) {
	for _, tc := range []struct {
		old, new string
		ok       bool
	}{
		{"int64", "int64", true},
		{"int32", "int64", true},   // widened
		{"int64", "int32", false},  // may overflow
		{"uint8", "int16", true},   // fits
		{"uint64", "int64", false}, // may overflow
		{"int8", "uint64", false},  // negatives
		{"float32", "float64", true},
		{"float64", "float32", false},
		{"string", "int64", false},
		{"string", "*string", true},
		{"bytes", "string", false},
		{"[]int32", "[]int64", true},
		{"[]string", "[]int", false},
		{"map[string]int8", "map[string]int64", true},
		{"map[string]string", "map[int64]string", false},
		{"{a:int,b:string}", "{a:int,c:bool}", true}, // field removed, one added
		{"{a:int,b:string}", "{a:string,b:string}", false},
		{"[]{a:[]int,b:{c:int}}", "[]{a:[]int64,b:{c:int}}", true},
		{"[]{a:[]int,b:{c:int}}", "[]{a:[]int,b:{c:string}}", false},
		{"time", "int64", false},
		{"text:example.com/p.Color", "text:example.com/p.Color", true},
	} {
		if got := compatible(tc.old, tc.new); got != tc.ok {
			t.Errorf("compatible(%q, %q) = %v, want %v", tc.old, tc.new, got, tc.ok)
		}
	}
}
