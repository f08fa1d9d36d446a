// Users and groups by name or number, as the C library knows them (NSS:
// /etc/passwd, LDAP, systemd's dynamic users), for uid/gid and listen-owner.
// struct passwd and struct group have the same layout on glibc and musl,
// x86_64 and arm64: pw_uid and pw_gid at 16 and 20, gr_gid at 16.
import { CString, read, type Pointer } from "bun:ffi";
import { cstr, libc } from "./libc.ts";

export interface User {
  name?: string;
  uid: number;
  gid: number;
}

const isNumber = (s: string) => /^\d+$/.test(s);

/** A user by name or number; a number with no passwd entry is taken as it is (its group: the same number, as uWSGI does). */
export function findUser(spec: string): User | undefined {
  const p = (isNumber(spec) ? libc.getpwuid(Number(spec)) : libc.getpwnam(cstr(spec))) as Pointer | null;
  if (!p) return isNumber(spec) ? { uid: Number(spec), gid: Number(spec) } : undefined;
  return { name: new CString(read.ptr(p, 0) as unknown as Pointer).toString(), uid: read.u32(p, 16), gid: read.u32(p, 20) };
}

/** A group by name or number (a number need not have an entry). */
export function findGroup(spec: string): number | undefined {
  if (isNumber(spec)) return Number(spec);
  const g = libc.getgrnam(cstr(spec)) as Pointer | null;
  return g ? read.u32(g, 16) : undefined;
}

/** The user's supplementary groups with `gid` among them (getgrouplist(3)); [gid] for a user with no name. */
export function groupsOf(user: User, gid: number): number[] {
  if (!user.name) return [gid];
  let n = 64;
  for (let tries = 0; tries < 4; tries++) {
    const list = new Uint32Array(new ArrayBuffer(4 * n));
    const count = new Int32Array(new ArrayBuffer(4));
    count[0] = n;
    if (libc.getgrouplist(cstr(user.name), gid, list, count) >= 0) return [...list.subarray(0, count[0]!)];
    n = Math.max(count[0]!, n * 2);
  }
  return [gid];
}
