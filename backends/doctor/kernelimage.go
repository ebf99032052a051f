package doctor

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// kernelFormat says what a kernel file is, from its first bytes (at
// least 0x206 of them, fewer for a short file): "arm64 Image", "gzip",
// "EFI zboot", "x86 bzImage", "ELF" or "unknown".
func kernelFormat(head []byte) string {
	switch {
	case len(head) >= 64 && binary.LittleEndian.Uint32(head[56:60]) == 0x644d5241: // "ARM\x64"
		return "arm64 Image"
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return "gzip"
	case len(head) >= 8 && head[0] == 'M' && head[1] == 'Z' && bytes.Equal(head[4:8], []byte("zimg")):
		return "EFI zboot"
	case len(head) >= 0x206 && bytes.Equal(head[0x202:0x206], []byte("HdrS")):
		return "x86 bzImage"
	case len(head) >= 4 && bytes.Equal(head[:4], []byte("\x7fELF")):
		return "ELF"
	}
	return "unknown"
}

// kernelResult judges a VM's kernel for a Mac of architecture goarch:
// Virtualization.framework boots an uncompressed Image on Apple silicon.
func kernelResult(vmName, path, goarch string, head []byte) Result {
	name := "vm-kernel:" + vmName
	f := kernelFormat(head)
	if goarch == "arm64" {
		switch f {
		case "arm64 Image":
			return pass(name, path+" is an uncompressed arm64 Image")
		case "gzip":
			return fail(name, path+" is gzip-compressed (a vmlinuz): Virtualization.framework boots only an uncompressed Image on Apple silicon",
				fmt.Sprintf("gunzip -c %s > Image and give kernel=Image (docs/macos.md, section 2)", path))
		case "EFI zboot":
			return fail(name, path+" is an EFI zboot image (a compressed kernel with an EFI stub): Virtualization.framework boots only an uncompressed Image on Apple silicon",
				"extract the Image from it (the payload after the zboot header is gzip or zstd), or take the distribution's uncompressed Image")
		}
		return fail(name, fmt.Sprintf("%s is not an arm64 Linux Image (it looks like: %s)", path, f), "give the uncompressed arm64 kernel Image (docs/macos.md, section 2)")
	}
	switch f {
	case "x86 bzImage", "ELF":
		return pass(name, fmt.Sprintf("%s is an x86 kernel (%s)", path, f))
	}
	return fail(name, fmt.Sprintf("%s is not an x86 Linux kernel (it looks like: %s)", path, f), "give the distribution's x86_64 vmlinuz (a bzImage)")
}
