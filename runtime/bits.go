package runtime

// bits is a set of field indexes. Sessions of up to 64 fields need no
// allocation.
type bits struct {
	lo uint64
	hi []uint64 // fields 64 and up
}

func (b *bits) set(i int) {
	if i < 64 {
		b.lo |= 1 << i
		return
	}
	w := i/64 - 1
	for len(b.hi) <= w {
		b.hi = append(b.hi, 0)
	}
	b.hi[w] |= 1 << (i % 64)
}

func (b *bits) has(i int) bool {
	if i < 64 {
		return b.lo&(1<<i) != 0
	}
	w := i/64 - 1
	return w < len(b.hi) && b.hi[w]&(1<<(i%64)) != 0
}

func (b *bits) any() bool {
	if b.lo != 0 {
		return true
	}
	for _, w := range b.hi {
		if w != 0 {
			return true
		}
	}
	return false
}

func (b *bits) clear() {
	b.lo = 0
	clear(b.hi)
}
