/* sup's autoreload scanner: one call stats a whole batch of directories and
 * their files, so a poll costs the kernel's work and little else.
 *
 * Compiled at run time by TinyCC through bun:ffi `cc` (scan-native.ts), from
 * a copy in a private directory (tcc cannot read Bun's embedded files). No
 * system headers: a server may have none. So the few constants are written
 * out here, per architecture (asm-generic/fcntl.h, arch/x86/include/uapi/
 * asm/unistd_64.h, include/uapi/asm-generic/unistd.h), and syscalls go
 * through libc's syscall(2), which glibc and musl both export.
 *
 * The tables are laid out by tree-index.ts; keep the two in step:
 *   file record, 8 u32: mtime sec lo, hi, mtime nsec (or NEW / MISSING),
 *                       size lo, hi, inode lo, hi, name offset
 *   dir record, 16 u32: mtime sec lo, hi, nsec, dev major, minor, inode lo,
 *                       hi, path offset, parent, first file, file count,
 *                       first child, next sibling, flags, wd, spare
 *   out record, 6 u32:  kind, dir, file, ctime sec lo, hi, ctime nsec
 *                       (kind DIR_GONE: errno in place of the ctime) */
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

extern long syscall(long, ...);
extern int *__errno_location(void);

#if defined(__x86_64__)
#define SYS_openat 257
#define SYS_close 3
#define SYS_statx 332
#define SYS_getdents64 217
#define O_DIRECTORY 0200000
#elif defined(__aarch64__)
#define SYS_openat 56
#define SYS_close 57
#define SYS_statx 291
#define SYS_getdents64 61
#define O_DIRECTORY 040000
#else
#error "the scanner knows the syscall numbers of x86_64 and aarch64 only"
#endif

#define O_CLOEXEC 02000000
#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_NO_AUTOMOUNT 0x800
#define AT_EMPTY_PATH 0x1000
/* STATX_TYPE | MODE | INO | SIZE | MTIME | CTIME (linux/stat.h) */
#define WANTED 0x3c3
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFLNK 0120000
#define DT_UNKNOWN 0
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10

#define NEW 0xfffffffeu
#define MISSING 0xffffffffu
#define F_STRIDE 8
#define D_STRIDE 16
#define O_STRIDE 6
#define D_PATH 7
#define D_FIRST 9
#define D_COUNT 10
#define D_FLAGS 13
#define LIVE 1
#define SINGLE 2

enum { CREATED = 1, DELETED = 2, MODIFIED = 3, REPLACED = 4, DIR_CHANGED = 5, DIR_GONE = 6 };

/* struct statx as u32 words (linux/stat.h): stx_mode at byte 28, stx_ino 32,
 * stx_size 40, stx_ctime 96, stx_mtime 112, stx_dev_major 136. */
static u32 sx[64];

static int stat_at(int dirfd, const char *name, int flags) {
  return (int)syscall(SYS_statx, dirfd, name, flags | AT_NO_AUTOMOUNT, WANTED, sx);
}

static void emit(u32 *o, u32 kind, u32 dir, u32 file) {
  o[0] = kind; o[1] = dir; o[2] = file;
  o[3] = sx[24]; o[4] = sx[25]; o[5] = sx[26];
}

/* Stat the files of one open directory against their records; returns the
 * number of out records written. */
static int scan_files(int fd, u32 d, u32 *files, const u8 *names, u32 first, u32 count, u32 *out) {
  int n = 0;
  for (u32 i = first; i < first + count; i++) {
    u32 *r = files + i * F_STRIDE;
    int ok = fd >= 0 && stat_at(fd, (const char *)names + r[7], 0) == 0 && (sx[7] & S_IFMT) == S_IFREG;
    u32 kind = 0;
    if (!ok) {
      if (r[2] != NEW && r[2] != MISSING) kind = DELETED;
      r[2] = MISSING;
    } else {
      if (r[2] == NEW || r[2] == MISSING) kind = CREATED;
      else if (r[5] != sx[8] || r[6] != sx[9]) kind = REPLACED;
      else if (r[0] != sx[28] || r[1] != sx[29] || r[2] != sx[30] || r[3] != sx[10] || r[4] != sx[11]) kind = MODIFIED;
      r[0] = sx[28]; r[1] = sx[29]; r[2] = sx[30]; r[3] = sx[10]; r[4] = sx[11]; r[5] = sx[8]; r[6] = sx[9];
    }
    if (kind) emit(out + (n++) * O_STRIDE, kind, d, i);
  }
  return n;
}

/* Scan directories list[at..count) (or every directory at..count when list
 * is null): a directory whose own stat moved is reported (DIR_CHANGED, to be
 * listed again) and its files are left for later; otherwise each file is
 * stat'ed relative to the directory's fd (one path lookup per directory, not
 * per file). Stops before a directory whose changes might not fit in out;
 * at[0] says where to go on. Returns the number of out records. */
int sup_scan(u32 *dirs, u32 *files, const u8 *names, const u32 *list, u32 count, u32 *out, u32 outcap, u32 *at) {
  u32 n = 0;
  u32 k = at[0];
  for (; k < count; k++) {
    u32 d = list ? list[k] : k;
    u32 *r = dirs + d * D_STRIDE;
    if (!(r[D_FLAGS] & LIVE)) continue;
    if (n + r[D_COUNT] + 1 > outcap) break;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, (const char *)names + r[D_PATH], O_DIRECTORY | O_CLOEXEC, 0);
    if (!(r[D_FLAGS] & SINGLE)) {
      if (fd < 0) {
        emit(out + (n++) * O_STRIDE, DIR_GONE, d, 0);
        out[(n - 1) * O_STRIDE + 3] = (u32)*__errno_location();
        continue;
      }
      if (stat_at(fd, "", AT_EMPTY_PATH) != 0 || r[0] != sx[28] || r[1] != sx[29] || r[2] != sx[30] || r[5] != sx[8] || r[6] != sx[9]) {
        emit(out + (n++) * O_STRIDE, DIR_CHANGED, d, 0);
        syscall(SYS_close, fd); /* a read-only directory fd: close cannot lose data */
        continue;
      }
    }
    n += scan_files(fd, d, files, names, r[D_FIRST], r[D_COUNT], out + n * O_STRIDE);
    if (fd >= 0) syscall(SYS_close, fd);
  }
  at[0] = k;
  return (int)n;
}

static u8 dents[32768];

/* List a directory into out as records: type ('f' file, 'l' link to a file,
 * 'd' directory), name, NUL. Links to directories and special files are left
 * out (a link to an ancestor would loop). The directory's stat, taken before
 * reading, goes to hdr (dir record words 0-6). Returns the bytes written,
 * -errno, or -100000 when out is too small. */
int sup_list(const char *path, u8 *out, u32 cap, u32 *hdr) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return -*__errno_location();
  if (stat_at(fd, "", AT_EMPTY_PATH) != 0) {
    int e = *__errno_location();
    syscall(SYS_close, fd);
    return -e;
  }
  hdr[0] = sx[28]; hdr[1] = sx[29]; hdr[2] = sx[30]; hdr[3] = sx[34]; hdr[4] = sx[35]; hdr[5] = sx[8]; hdr[6] = sx[9];
  u32 pos = 0;
  for (;;) {
    long got = syscall(SYS_getdents64, fd, dents, sizeof dents);
    if (got < 0) {
      int e = *__errno_location();
      syscall(SYS_close, fd);
      return -e;
    }
    if (got == 0) break;
    for (long off = 0; off < got;) {
      u16 reclen = *(u16 *)(dents + off + 16);
      u8 type = dents[off + 18];
      const char *name = (const char *)dents + off + 19;
      off += reclen;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      u8 t = 0;
      if (type == DT_UNKNOWN && stat_at(fd, name, AT_SYMLINK_NOFOLLOW) == 0) {
        u32 m = sx[7] & S_IFMT;
        type = m == S_IFREG ? DT_REG : m == S_IFDIR ? DT_DIR : m == S_IFLNK ? DT_LNK : 0xff;
      }
      if (type == DT_REG) t = 'f';
      else if (type == DT_DIR) t = 'd';
      else if (type == DT_LNK && stat_at(fd, name, 0) == 0 && (sx[7] & S_IFMT) == S_IFREG) t = 'l';
      if (!t) continue;
      u32 len = 0;
      while (name[len]) len++;
      if (pos + len + 2 > cap) {
        syscall(SYS_close, fd);
        return -100000;
      }
      out[pos++] = t;
      for (u32 j = 0; j <= len; j++) out[pos++] = (u8)name[j];
    }
  }
  syscall(SYS_close, fd);
  return (int)pos;
}
