package doctor

// Reading the entitlements out of a Mach-O binary's code signature, to
// tell whether Virtualization.framework will let the binary start VMs.

import (
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Code signature blobs (xnu: osfmk/kern/cs_blobs.h). The signature is a
// big-endian SuperBlob: a magic, its length, a count and that many
// (type, offset) index entries.
const (
	csMagicEmbeddedSignature = 0xfade0cc0
	csMagicEmbeddedEntitle   = 0xfade7171
	csSlotEntitlements       = 5
	lcCodeSignature          = 0x1d
)

// VirtualizationEntitlement is the entitlement a binary needs to start
// VMs with Virtualization.framework.
const VirtualizationEntitlement = "com.apple.security.virtualization"

// errNotSigned says the binary has no code signature, or none with
// entitlements.
var errNotSigned = errors.New("no entitlements in the code signature")

// machoEntitlements returns the XML entitlements of the Mach-O binary in
// r.
func machoEntitlements(r io.ReaderAt) ([]byte, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 16 || f.ByteOrder.Uint32(raw) != lcCodeSignature {
			continue
		}
		off, size := f.ByteOrder.Uint32(raw[8:]), f.ByteOrder.Uint32(raw[12:])
		sig := make([]byte, size)
		if _, err := r.ReadAt(sig, int64(off)); err != nil {
			return nil, fmt.Errorf("reading the code signature: %w", err)
		}
		return signatureEntitlements(sig)
	}
	return nil, errNotSigned
}

// signatureEntitlements returns the XML entitlements blob of a code
// signature SuperBlob.
func signatureEntitlements(sig []byte) ([]byte, error) {
	be := binary.BigEndian
	if len(sig) < 12 || be.Uint32(sig) != csMagicEmbeddedSignature {
		return nil, errors.New("the code signature is not an embedded signature")
	}
	count := int(be.Uint32(sig[8:]))
	if count > (len(sig)-12)/8 {
		return nil, errors.New("the code signature's index runs past its end")
	}
	for i := range count {
		e := sig[12+8*i:]
		if be.Uint32(e) != csSlotEntitlements {
			continue
		}
		off := int(be.Uint32(e[4:]))
		if off < 0 || off > len(sig)-8 {
			return nil, errors.New("the entitlements blob lies outside the signature")
		}
		blob := sig[off:]
		n := int(be.Uint32(blob[4:]))
		if be.Uint32(blob) != csMagicEmbeddedEntitle || n < 8 || n > len(blob) {
			return nil, errors.New("the entitlements blob is malformed")
		}
		return blob[8:n], nil
	}
	return nil, errNotSigned
}

// entitlementTrue matches <key>NAME</key> followed by <true/>.
func entitlementTrue(xml []byte, name string) bool {
	re := regexp.MustCompile(`<key>\s*` + regexp.QuoteMeta(name) + `\s*</key>\s*<true\s*/>`)
	return re.Match(xml)
}

// entitlementResult judges the entitlements read from the binary at path.
func entitlementResult(path string, xml []byte, err error) Result {
	const name = "vz-entitlement"
	fix := fmt.Sprintf("codesign --entitlements backends/vm/vz.entitlements --force -s - %s (docs/release.md)", path)
	switch {
	case errors.Is(err, errNotSigned):
		return fail(name, path+" is not signed with entitlements: Virtualization.framework will refuse to start VMs", fix)
	case err != nil:
		return fail(name, "reading the entitlements of "+path+": "+err.Error(), fix)
	case !entitlementTrue(xml, VirtualizationEntitlement):
		return fail(name, path+" is signed, but without "+VirtualizationEntitlement, fix)
	}
	return pass(name, path+" carries "+VirtualizationEntitlement)
}
