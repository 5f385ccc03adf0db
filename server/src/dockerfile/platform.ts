// Platforms as BuildKit names them ("linux/arm64/v8"), and this machine's, which a build
// targets unless told otherwise.

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** This machine's platform in OCI terms. */
export function hostPlatform(): Platform {
  const arch: Record<string, Platform> = {
    x64: { os: 'linux', architecture: 'amd64' },
    arm64: { os: 'linux', architecture: 'arm64' },
    arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
    ia32: { os: 'linux', architecture: '386' },
    ppc64: { os: 'linux', architecture: 'ppc64le' },
    s390x: { os: 'linux', architecture: 's390x' },
    riscv64: { os: 'linux', architecture: 'riscv64' },
  };
  return arch[process.arch] ?? { os: 'linux', architecture: process.arch };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);
const ARCH_ALIASES: Record<string, string> = { i386: '386', x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };

/**
 * Parses a platform as containerd normalizes it ("linux/x86_64" is linux/amd64; an OS alone
 * means this machine's architecture, an architecture alone Linux); null when it is not one.
 */
export function parsePlatform(text: string): Platform | null {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) return null;
  const arch = (a: string) => ARCH_ALIASES[a] ?? a;
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0])) return { os: parts[0], architecture: hostPlatform().architecture };
    if (KNOWN_ARCH.has(arch(parts[0]))) return { os: 'linux', architecture: arch(parts[0]) };
    return null;
  }
  const os = parts[0] === 'macos' ? 'darwin' : parts[0];
  return { os, architecture: arch(parts[1]), ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** Whether an offered platform serves a wanted one (a missing variant matches any). */
export function platformMatches(offered: Platform, wanted: Platform): boolean {
  return (
    offered.os === wanted.os &&
    offered.architecture === wanted.architecture &&
    (!wanted.variant || !offered.variant || offered.variant === wanted.variant)
  );
}
