// sd_notify(3) for Bun in a few lines: one datagram on the unix socket named
// by $NOTIFY_SOCKET. Neither Bun nor node:dgram has unix datagram sockets, so
// libc's socket/sendto through bun:ffi. Copy this file along with your app.
//   import { sdNotify } from "./sd-notify.ts";  sdNotify("READY=1");
import { dlopen } from "bun:ffi";

export function sdNotify(message: string): void {
  const target = process.env.NOTIFY_SOCKET;
  if (!target) return;
  const libc = dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    sendto: { args: ["i32", "ptr", "u64", "i32", "ptr", "u32"], returns: "i64" },
    close: { args: ["i32"], returns: "i32" },
  }).symbols;
  const name = Buffer.from(target.startsWith("@") ? "\0" + target.slice(1) : target + "\0");
  const addr = Buffer.concat([Buffer.from([1, 0]), name]); // sa_family = AF_UNIX, then sun_path
  const data = Buffer.from(message);
  const fd = libc.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0);
  libc.sendto(fd, data, data.length, 0, addr, addr.length);
  libc.close(fd);
}
