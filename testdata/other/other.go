// Package other declares types that sessions in other packages store.
package other

// Money is an amount in cents.
type Money int64

// Line is a named struct from another package.
type Line struct {
	SKU   string `session:"sku"`
	Price Money  `session:"price"`
}
