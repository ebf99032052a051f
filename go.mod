module github.com/l2fabric/l2fabric

go 1.25.0

require (
	github.com/Code-Hex/go-infinity-channel v1.0.0 // indirect
	github.com/Code-Hex/vz/v3 v3.7.1 // indirect
	github.com/mdlayher/ethernet v0.0.0-20220221185849-529eae5b6118 // indirect
	golang.org/x/mod v0.22.0 // indirect
)
