package nocgo

// OnDarwin is declared only on darwin, cgo or not.
const OnDarwin = true
