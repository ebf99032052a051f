# Homebrew formula for l2fabric: builds from source with cgo, so that vm:
# ports (Virtualization.framework) work, and signs the binary with the
# virtualization entitlement. docs/release.md says how a release fills in
# url and sha256; until the first tagged release, install the main branch:
#
#   brew install --HEAD ./packaging/homebrew/l2fabric.rb
class L2fabric < Formula
  desc "User-space learning Ethernet switch for VMs, host NICs and bridges"
  homepage "https://github.com/l2fabric/l2fabric"
  license "Apache-2.0"
  head "https://github.com/l2fabric/l2fabric.git", branch: "main"

  # A release sets these (docs/release.md, "Homebrew"):
  # url "https://github.com/l2fabric/l2fabric/archive/refs/tags/vX.Y.Z.tar.gz"
  # sha256 "<sha256 of that tarball>"

  depends_on "go" => :build
  # Virtualization.framework's Linux boot loader and file-handle network
  # attachment.
  depends_on macos: :big_sur

  def install
    ENV["CGO_ENABLED"] = "1"
    ldflags = "-s -w -X main.version=#{version}"
    system "go", "build", *std_go_args(ldflags: ldflags), "./cmd/l2fabric"
    # Without the entitlement Virtualization.framework refuses to start
    # VMs. An ad hoc signature (-s -) needs no developer account.
    system "codesign", "--entitlements", "backends/vm/vz.entitlements", "--force", "-s", "-", bin/"l2fabric"
  end

  def caveats
    <<~EOS
      host: and feth: ports need root. Check this Mac first, and attach the
      output to any bug report:
        sudo #{opt_bin}/l2fabric doctor host:en0 feth:bridge1 vm:router
      To start l2fabric at boot (a launchd daemon):
        sudo #{opt_bin}/l2fabric service install --binary #{opt_bin}/l2fabric --port ...
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/l2fabric version")
    entitlements = shell_output("codesign -d --entitlements - #{bin}/l2fabric 2>&1")
    assert_match "com.apple.security.virtualization", entitlements
    # dgram ports need no root: sendmsg_x/recvmsg_x and their sysctls.
    system bin/"l2fabric", "doctor", "dgram:#{testpath}/vms.sock"
  end
end
