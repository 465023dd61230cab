module github.com/sessiongen/sessiongen/testdata

go 1.24.0

require (
	github.com/sessiongen/sessiongen v0.0.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require (
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/mod v0.33.0 // indirect
	golang.org/x/sync v0.19.0 // indirect
	golang.org/x/tools v0.42.0 // indirect
)

replace github.com/sessiongen/sessiongen => ../

tool github.com/sessiongen/sessiongen/cmd/sessiongen
