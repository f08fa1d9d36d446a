// Byte layouts of struct sockaddr_in, sockaddr_in6 and sockaddr_un (ip(7),
// ipv6(7), unix(7)). sa_family is in host order (little-endian on the targets),
// ports in network order.
import { ConfigError } from "../config/coerce.ts";
import { AF_INET, AF_INET6, AF_UNIX, cstr, libc } from "../native/libc.ts";

/** sizeof(sun_path): a unix socket path must fit with its terminating NUL. */
export const SUN_PATH_MAX = 108;

/** sockaddr_in / sockaddr_in6 for a numeric host, or undefined when host is not one. */
export function inetAddr(family: number, host: string, port: number): Buffer | undefined {
  const sa = Buffer.alloc(family === AF_INET ? 16 : 28);
  sa.writeUInt16LE(family, 0);
  sa.writeUInt16BE(port, 2);
  // inet_pton writes the address at its offset: sin_addr at 4, sin6_addr at 8.
  const ok = libc.inet_pton(family, cstr(host), sa.subarray(family === AF_INET ? 4 : 8));
  return ok === 1 ? sa : undefined;
}

/**
 * sockaddr_un for a filesystem path, or for the abstract namespace when the
 * name starts with "@" (the sd_notify convention, sd_notify(3)). Returns the
 * bytes to pass with their exact length: abstract names are not NUL-terminated.
 */
export function unixAddr(name: string): Buffer {
  const abstract = name.startsWith("@");
  const bytes = Buffer.from(abstract ? name.slice(1) : name, "utf8");
  const room = SUN_PATH_MAX - 1; // a path needs its NUL, an abstract name its leading NUL
  if (bytes.length > room) {
    throw new ConfigError(`unix socket path ${name} is ${bytes.length} bytes long; at most ${room} fit in sockaddr_un (use a shorter directory, e.g. set TMPDIR)`);
  }
  const sa = Buffer.alloc(2 + (abstract ? 1 + bytes.length : bytes.length + 1));
  sa.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(sa, abstract ? 3 : 2);
  return sa;
}
