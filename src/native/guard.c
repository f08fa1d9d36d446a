/* sup's guard, forked from the master (native/guard.ts says why and how it is
   used; processes/guard.ts is the master's side and the Bun fallback).

   guard_start() runs in the master: it clones a child onto a fresh stack
   (clone(2) without CLONE_VM: a fork that runs no atfork handlers), and
   waits for the child's first word. The parent is multi-threaded, so the
   child may only make system calls (fork(2), signal-safety(7)): it uses
   libc's syscall() and nothing else of libc, no malloc, no stdio. It resets
   every signal handler (they point into the master's code), takes a session
   of its own, keeps only the pipe from the master and stderr, and then
   unmaps every mapping it inherited but libc's, its thread's TLS, its own
   code, its stack, the vDSO and the page with its command line: what was a
   copy of a 40 MB Bun process is then a few hundred kilobytes.

   It then blocks in ppoll(2) on the pipe. The master writes "+g N" / "-g N"
   (a process group), "+p N" / "-p N" (one process) and "bye". When the pipe
   ends without "bye" the master is gone, however it died: the guard
   SIGKILLs sup's cgroup subtree in cgroup mode (cgroup.kill is recursive:
   every worker's cgroup at once; the guard itself has moved out of it),
   every watched group and process, every process it last saw below the
   master (subreaper mode: the kernel tells a subreaper nothing when it
   adopts an orphan, so the guard reads the master's tree itself), every
   process of a worker's session or group, and every process whose
   environment says SUP_MASTER_PID=<master>; then it removes the cgroups
   and the master's runtime directory, logs one line and exits.

   TinyCC turns aggregate initialisers and structure copies into calls to
   memset/memcpy, which Bun's TinyCC binds to code in the Bun executable:
   unmapped in the child. So nothing here is initialised as a whole or
   copied as a structure: fields one by one. */

typedef unsigned long size_t;
typedef unsigned long u64;

extern long syscall(long n, ...);
extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
extern int *__errno_location(void);
extern unsigned long pthread_self(void);
extern int pthread_sigmask(int how, const void *set, void *old);

#if defined(__x86_64__)
enum { NR_read = 0, NR_write = 1, NR_close = 3, NR_mmap = 9, NR_munmap = 11, NR_rt_sigaction = 13,
       NR_madvise = 28, NR_kill = 62, NR_fcntl = 72, NR_chdir = 80, NR_setsid = 112, NR_prctl = 157,
       NR_getdents64 = 217, NR_clock_gettime = 228, NR_exit_group = 231, NR_waitid = 247, NR_openat = 257,
       NR_unlinkat = 263, NR_ppoll = 271, NR_dup3 = 292, NR_pipe2 = 293, NR_close_range = 436 };
#elif defined(__aarch64__)
enum { NR_read = 63, NR_write = 64, NR_close = 57, NR_mmap = 222, NR_munmap = 215, NR_rt_sigaction = 134,
       NR_madvise = 233, NR_kill = 129, NR_fcntl = 25, NR_chdir = 49, NR_setsid = 157, NR_prctl = 167,
       NR_getdents64 = 61, NR_clock_gettime = 113, NR_exit_group = 94, NR_waitid = 95, NR_openat = 56,
       NR_unlinkat = 35, NR_ppoll = 73, NR_dup3 = 24, NR_pipe2 = 59, NR_close_range = 436 };
#else
#error "the native guard is built for x86_64 and aarch64 only"
#endif

#define EINTR 4
#define EAGAIN 11
#define ENOENT 2
#define ESRCH 3
#define ENOSYS 38
#define AT_FDCWD (-100)
#define O_WRONLY 1
#define O_CLOEXEC 02000000
#define AT_REMOVEDIR 0x200
#define SIGKILL 9
#define SIGPIPE 13
#define SIGCHLD 17
#define SIGSTOP 19
#define POLLIN 1
#define PROT_RW 3
#define MAP_PRIVATE_ANON 0x22
#define MAP_STACK 0x20000
#define MADV_DONTNEED 4
#define PR_SET_NAME 15
#define F_DUPFD 0

#define STACK (256 << 10)
#define MAX_IDS 4096   /* watched groups, processes, and the tree seen below the master */
#define PATH 4096
#define FAST_MS 25     /* tree reads right after a change... */
#define SLOW_MS 1000   /* ...doubling up to this while nothing changes */

struct pollfd_ { int fd; short events; short revents; };
struct timespec_ { long sec; long nsec; };
struct ksigaction { u64 handler; u64 flags; u64 restorer; u64 mask; };

/* What guard_start hands to the child (read before anything is unmapped). */
struct start { int in_fd, ready_fd, master, flags; const char *rundir, *root, *home; u64 stack; };
#define F_TREE 1 /* subreaper mode: read the master's tree */
#define F_JSON 2 /* --log-format json */

struct state {
  int master, self, flags;
  int ngroups, npids, ntree, bye;
  int killed_pids, killed_cg;
  int groups[MAX_IDS], pids[MAX_IDS];
  int tree[MAX_IDS], next[MAX_IDS], work[MAX_IDS];
  u64 tree_start[MAX_IDS], next_start[MAX_IDS];
  char rundir[PATH], root[PATH], home[PATH];
  char line[PATH]; int linelen;
  char path[2 * PATH];
  char buf[65536];
};

static int err(void) { return *__errno_location(); }
/* A system call with every argument widened to long: syscall() is variadic,
   and an int passed to it leaves the upper half of its register unspecified
   (System V x86-64 and AAPCS64 ABIs). Returns the result, or -errno. */
static long sys(long n, long a, long b, long c, long d, long e, long f) {
  long r = syscall(n, a, b, c, d, e, f);
  return r == -1 ? -(long)err() : r;
}
#define S0(n) sys(n, 0, 0, 0, 0, 0, 0)
#define S1(n, a) sys(n, (long)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b) sys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) sys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define S4(n, a, b, c, d) sys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define S5(n, a, b, c, d, e) sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define S6(n, a, b, c, d, e, f) sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static int starts(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }
/* dst = a b c, NUL-terminated (2 * PATH bytes at most): the end, where more can be appended. */
static char *cat3(char *dst, const char *a, const char *b, const char *c) {
  size_t n = 0; const char *parts[3]; int i;
  parts[0] = a; parts[1] = b; parts[2] = c;
  for (i = 0; i < 3; i++) for (const char *p = parts[i]; p && *p && n < 2 * PATH - 1; p++) dst[n++] = *p;
  dst[n] = 0;
  return dst + n;
}
/* dst = src, cut to cap - 1 bytes. */
static void copyz(char *dst, const char *src, size_t cap) { size_t n = 0; while (src[n] && n < cap - 1) { dst[n] = src[n]; n++; } dst[n] = 0; }
static char *fmt_u(char *p, u64 v) { char t[24]; int n = 0; do t[n++] = (char)('0' + v % 10); while (v /= 10); while (n) *p++ = t[--n]; *p = 0; return p; }
static u64 parse_u(const char **p) { u64 v = 0; while (**p >= '0' && **p <= '9') v = v * 10 + (u64)(*(*p)++ - '0'); return v; }

static int open_(const char *path, int flags) { return (int)S3(NR_openat, AT_FDCWD, path, flags | O_CLOEXEC); }
/* close(2): on Linux the fd is gone even when it fails; never retry. */
static void close_(int fd) { if (fd >= 0) S1(NR_close, fd); }
static long read_(int fd, void *b, long n) { long r; do r = S3(NR_read, fd, b, n); while (r == -EINTR); return r; }
static long write_(int fd, const void *b, long n) { long r; do r = S3(NR_write, fd, b, n); while (r == -EINTR); return r; }
static int kill_(int pid, int sig) { return (int)S2(NR_kill, pid, sig); }
/* An interrupted sleep is only shorter. */
static void sleep_ms(long ms) { struct timespec_ t; t.sec = ms / 1000; t.nsec = (ms % 1000) * 1000000; S5(NR_ppoll, 0, 0, &t, 0, 8); }
/* CLOCK_MONOTONIC cannot fail with a valid pointer (clock_gettime(2)). */
static long now_ms(void) { struct timespec_ t; if (S2(NR_clock_gettime, 1, &t) != 0) return 0; return t.sec * 1000 + t.nsec / 1000000; }

/* Reads a small file into buf (NUL-terminated): its length, or -errno. */
static long slurp(const char *path, char *buf, long cap) {
  int fd = open_(path, 0);
  long n = 0, r = 0;
  if (fd < 0) return fd;
  while (n < cap - 1 && (r = read_(fd, buf + n, cap - 1 - n)) > 0) n += r;
  close_(fd);
  buf[n] = 0;
  return r < 0 ? r : n;
}

/* Writes a short string to a file (cgroup.kill, cgroup.procs): 0 or -errno. */
static int put(const char *path, const char *text) {
  int fd = open_(path, O_WRONLY);
  long r;
  if (fd < 0) return fd;
  r = write_(fd, text, (long)slen(text));
  close_(fd);
  return r < 0 ? (int)r : 0;
}

/* /proc/PID/stat: process group, session and start time (proc(5) fields 5, 6, 22); 0 or -errno. */
static int stat_of(struct state *s, int pid, int *pgrp, int *sid, u64 *start) {
  char p[64], *q = p, *b = s->buf, *e;
  const char *c;
  int field;
  long n;
  q = cat3(p, "/proc/", "", ""); q = fmt_u(q, (u64)pid); cat3(q, "/stat", "", "");
  n = slurp(p, b, 1024);
  if (n < 0) return (int)n;
  e = b + n;
  while (e > b && *e != ')') e--; /* comm may hold spaces and ")" */
  if (e == b) return -ENOENT;
  c = e + 2;
  for (field = 3; field < 22 && *c; field++) {
    if (field == 5) *pgrp = (int)parse_u(&c);
    else if (field == 6) *sid = (int)parse_u(&c);
    while (*c && *c != ' ') c++;
    if (*c) c++;
  }
  *start = parse_u(&c);
  return field == 22 ? 0 : -ENOENT;
}

static int has(const int *a, int n, int v) { for (int i = 0; i < n; i++) if (a[i] == v) return 1; return 0; }

/* Appends the children of every thread of pid (proc(5): /proc/PID/task/TID/children) to out. */
static int children_of(struct state *s, int pid, int *out, int n, int cap) {
  char dir[64], *q, ents[2048], p[96];
  int fd, off;
  long got;
  q = cat3(dir, "/proc/", "", ""); q = fmt_u(q, (u64)pid); cat3(q, "/task", "", "");
  fd = open_(dir, 0);
  if (fd < 0) return n;
  while ((got = S3(NR_getdents64, fd, ents, sizeof ents)) > 0) {
    for (off = 0; off < got;) {
      unsigned short reclen = *(unsigned short *)(ents + off + 16); /* struct linux_dirent64 */
      const char *name = ents + off + 19;
      off += reclen;
      if (name[0] < '0' || name[0] > '9') continue;
      cat3(cat3(p, dir, "/", name), "/children", "", "");
      if (slurp(p, s->buf, sizeof s->buf) <= 0) continue;
      for (const char *c = s->buf; *c;) {
        int child = (int)parse_u(&c);
        while (*c == ' ' || *c == '\n') c++;
        if (child > 0 && child != s->self && n < cap && !has(out, n, child)) out[n++] = child;
      }
    }
  }
  close_(fd);
  return n;
}

/* Subreaper mode: every process below the master now (breadth first), with
   its start time. True when a new one is outside every watched group and
   session: a worker forking in its own group (a shell's loop) is no news,
   the group kill reaches all of it; one that left is what must be seen. */
static int read_tree(struct state *s) {
  int n = children_of(s, s->master, s->next, 0, MAX_IDS), changed = 0;
  for (int i = 0; i < n; i++) n = children_of(s, s->next[i], s->next, n, MAX_IDS);
  for (int i = 0; i < n; i++) {
    int j, pg = 0, sid = 0;
    for (j = 0; j < s->ntree && s->tree[j] != s->next[i]; j++) ;
    /* seen before, with its start time (one whose stat could not be read then is read again) */
    if (j < s->ntree && s->tree_start[j] != 0) { s->next_start[i] = s->tree_start[j]; continue; }
    if (stat_of(s, s->next[i], &pg, &sid, &s->next_start[i]) != 0) { s->next_start[i] = 0; continue; }
    if (!has(s->groups, s->ngroups, pg) && !has(s->groups, s->ngroups, sid)) changed = 1;
  }
  for (int i = 0; i < n; i++) { s->tree[i] = s->next[i]; s->tree_start[i] = s->next_start[i]; }
  s->ntree = n;
  return changed;
}

static void kill_pid(struct state *s, int pid) {
  if (pid > 0 && pid != s->self && kill_(pid, SIGKILL) == 0) s->killed_pids++;
}

/* A process and all below it: stopped first so that none forks while its children are read, then killed. */
static void kill_below(struct state *s, int pid) {
  int n = 1;
  s->work[0] = pid;
  for (int i = 0; i < n; i++) {
    if (kill_(s->work[i], SIGSTOP) != 0) continue;
    n = children_of(s, s->work[i], s->work, n, MAX_IDS);
  }
  for (int i = 0; i < n; i++) kill_pid(s, s->work[i]);
}

/* Calls fn on each cgroup directly below path (path + "/" + name, restored after). */
static void each_child(struct state *s, char *path, int depth, void (*fn)(struct state *, char *, int)) {
  char ents[2048];
  size_t len = slen(path);
  int fd, off;
  long got;
  if (depth >= 8 || (fd = open_(path, 0)) < 0) return;
  while ((got = S3(NR_getdents64, fd, ents, sizeof ents)) > 0) {
    for (off = 0; off < got;) {
      unsigned char type = *(unsigned char *)(ents + off + 18); /* struct linux_dirent64 */
      const char *name = ents + off + 19;
      off += *(unsigned short *)(ents + off + 16);
      if (type != 4 || name[0] == '.' || len + slen(name) + 2 >= 2 * PATH) continue; /* DT_DIR */
      cat3(path + len, "/", name, "");
      fn(s, path, depth + 1);
      path[len] = 0;
    }
  }
  close_(fd);
}

/* Every process listed in cgroup.procs of path and of the cgroups below it: cgroup.kill's work on Linux before 5.14. */
static void kill_procs(struct state *s, char *path, int depth) {
  size_t len = slen(path);
  if (len + 16 >= 2 * PATH) return;
  cat3(path + len, "/cgroup.procs", "", "");
  if (slurp(path, s->buf, sizeof s->buf) > 0) {
    for (const char *c = s->buf; *c;) {
      int pid = (int)parse_u(&c);
      while (*c == '\n') c++;
      if (!pid) break;
      kill_pid(s, pid);
    }
  }
  path[len] = 0;
  each_child(s, path, depth, kill_procs);
}

/* sup's whole subtree: cgroup.kill (Linux >= 5.14, recursive), else each process by pid. */
static void kill_cgroups(struct state *s) {
  cat3(s->path, s->root, "/cgroup.kill", "");
  if (put(s->path, "1") == 0) { s->killed_cg = 1; return; }
  cat3(s->path, s->root, "", "");
  kill_procs(s, s->path, 0);
}

/* Does /proc/PID/environ hold SUP_MASTER_PID=<master> as a whole entry? */
static int marked(struct state *s, int pid) {
  char p[64], mk[48], *q;
  int fd, k = 0, mlen;
  long n;
  q = cat3(p, "/proc/", "", ""); q = fmt_u(q, (u64)pid); cat3(q, "/environ", "", "");
  q = cat3(mk, "SUP_MASTER_PID=", "", ""); q = fmt_u(q, (u64)s->master);
  mlen = (int)(q - mk) + 1; /* the NUL that ends the entry */
  fd = open_(p, 0);
  if (fd < 0) return 0;
  while ((n = read_(fd, s->buf, sizeof s->buf)) > 0) {
    for (long i = 0; i < n; i++) {
      char c = s->buf[i];
      if (k >= 0) { if (c == mk[k]) { if (++k == mlen) { close_(fd); return 1; } } else k = -1; }
      if (c == 0) k = 0;
    }
  }
  close_(fd);
  return 0;
}

/* Every process of a watched session or group, or marked with this master's pid. */
static void kill_strays(struct state *s) {
  char ents[4096];
  int fd = open_("/proc", 0), off;
  long got;
  if (fd < 0) return;
  while ((got = S3(NR_getdents64, fd, ents, sizeof ents)) > 0) {
    for (off = 0; off < got;) {
      unsigned short reclen = *(unsigned short *)(ents + off + 16);
      const char *name = ents + off + 19, *c = name;
      int pid, pg = 0, sid = 0;
      u64 start;
      off += reclen;
      pid = (int)parse_u(&c);
      if (*c || pid <= 0 || pid == s->self) continue;
      if (stat_of(s, pid, &pg, &sid, &start) != 0) continue;
      if (has(s->groups, s->ngroups, pg) || has(s->groups, s->ngroups, sid) || marked(s, pid)) kill_pid(s, pid);
    }
  }
  close_(fd);
}

/* rmdir a cgroup and the cgroups below it (a worker may make its own); a busy one stays (EBUSY). */
static void rm_cgroup(struct state *s, char *path, int depth) {
  each_child(s, path, depth, rm_cgroup);
  S3(NR_unlinkat, AT_FDCWD, path, AT_REMOVEDIR);
}

/* Waits (1 s at most) until nothing runs in the cgroup, then removes it. */
static void remove_cgroup(struct state *s, char *path) {
  size_t len = slen(path);
  for (int i = 0; i < 20; i++) {
    cat3(path + len, "/cgroup.events", "", "");
    if (slurp(path, s->buf, 256) < 0) { path[len] = 0; return; } /* gone */
    path[len] = 0;
    if (!starts(s->buf, "populated 1")) break;
    sleep_ms(50);
  }
  rm_cgroup(s, path, 0);
}

/* msg as a JSON string's contents (quotes, backslashes and controls escaped), bounded. */
static char *json_str(char *p, const char *msg, char *end) {
  for (; *msg && p < end - 7; msg++) {
    unsigned char c = (unsigned char)*msg;
    if (c == '"' || c == '\\') { *p++ = '\\'; *p++ = (char)c; }
    else if (c < 0x20) { *p++ = '\\'; *p++ = 'u'; *p++ = '0'; *p++ = '0'; *p++ = "0123456789abcdef"[c >> 4]; *p++ = "0123456789abcdef"[c & 15]; }
    else *p++ = (char)c;
  }
  *p = 0;
  return p;
}

/* One log line, as the master writes them (output/log.ts), to the stderr it had. */
static void say(struct state *s, const char *level, const char *msg, const char *event) {
  char line[2048], *p = line;
  struct timespec_ t;
  long z, era, doe, yoe, doy, mp, y, m, d, sec;
  if (S2(NR_clock_gettime, 0, &t) != 0) { t.sec = 0; t.nsec = 0; }
  /* days to civil date (Howard Hinnant's algorithm) */
  z = t.sec / 86400 + 719468; sec = t.sec % 86400;
  era = z / 146097; doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100); mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1; m = mp < 10 ? mp + 3 : mp - 9; y = yoe + era * 400 + (m <= 2);
  {
    char ts[32]; long v[7]; int w[7], i, k = 0;
    const char *sep = "--T::.Z";
    v[0] = y; v[1] = m; v[2] = d; v[3] = sec / 3600; v[4] = sec / 60 % 60; v[5] = sec % 60; v[6] = t.nsec / 1000000;
    w[0] = 4; w[1] = 2; w[2] = 2; w[3] = 2; w[4] = 2; w[5] = 2; w[6] = 3;
    for (i = 0; i < 7; i++) {
      for (int j = w[i] - 1; j >= 0; j--) { ts[k + j] = (char)('0' + v[i] % 10); v[i] /= 10; }
      k += w[i]; ts[k++] = sep[i];
    }
    ts[k] = 0;
    if (s->flags & F_JSON) {
      p = cat3(p, "{\"time\":\"", ts, "\",\"level\":\""); p = cat3(p, level, "\",\"pid\":", "");
      p = fmt_u(p, (u64)s->master); p = cat3(p, ",\"msg\":\"", "", ""); p = json_str(p, msg, line + sizeof line - 64);
      p = cat3(p, "\",\"event\":\"", event, "\"}\n");
    } else {
      p = cat3(p, ts, " sup[", ""); p = fmt_u(p, (u64)s->master); p = cat3(p, "] ", level, ": "); p = cat3(p, msg, "\n", "");
    }
  }
  write_(2, line, p - line);
}

static void on_master_death(struct state *s) {
  char msg[512], *p;
  /* Three passes: a process may fork between a read and its kill. */
  for (int pass = 0; pass < 3; pass++) {
    int counted = s->killed_pids;
    if (s->root[0]) kill_cgroups(s);
    for (int i = 0; i < s->ngroups; i++) kill_(-s->groups[i], SIGKILL);
    for (int i = 0; i < s->npids; i++) kill_pid(s, s->pids[i]);
    for (int i = 0; i < s->ntree; i++) {
      int pg, sid; u64 start;
      /* the same process the last read saw, not a new one with its pid */
      if (stat_of(s, s->tree[i], &pg, &sid, &start) == 0 && start == s->tree_start[i]) kill_below(s, s->tree[i]);
    }
    kill_strays(s);
    if (pass) s->killed_pids = counted; /* count each once: the first pass */
    sleep_ms(50);
  }
  /* Empty once the exits are through (the master's too); then sup's subtree goes (a busy one stays). */
  if (s->root[0]) { cat3(s->path, s->root, "", ""); remove_cgroup(s, s->path); }
  /* What a clean exit would have removed: the sockets sup makes there, then the dir if empty (ENOENT, ENOTEMPTY: nothing to do). */
  if (s->rundir[0]) {
    cat3(s->path, s->rundir, "/control.sock", ""); S3(NR_unlinkat, AT_FDCWD, s->path, 0);
    cat3(s->path, s->rundir, "/notify.sock", ""); S3(NR_unlinkat, AT_FDCWD, s->path, 0);
    S3(NR_unlinkat, AT_FDCWD, s->rundir, AT_REMOVEDIR);
  }
  p = cat3(msg, "guard pid ", "", ""); p = fmt_u(p, (u64)s->self);
  p = cat3(p, ": the master died without a stop; killed what was left of its workers: ", "", "");
  if (s->killed_cg) p = cat3(p, "cgroup.kill on ", s->root, ", ");
  p = fmt_u(p, (u64)s->killed_pids); cat3(p, s->killed_pids == 1 ? " process by pid" : " processes by pid", "", "");
  say(s, "warn", msg, "guard.kill");
}

static void set_add(int *a, int *n, int cap, int v) { if (v > 0 && *n < cap && !has(a, *n, v)) a[(*n)++] = v; }
static void set_del(int *a, int *n, int v) { for (int i = 0; i < *n; i++) if (a[i] == v) { a[i] = a[--*n]; return; } }

static void on_line(struct state *s, char *l) {
  int add = l[0] == '+';
  const char *c = l + 3;
  if (l[0] == 'b' && l[1] == 'y' && l[2] == 'e' && !l[3]) { s->bye = 1; return; }
  if ((l[0] != '+' && l[0] != '-') || l[2] != ' ') return;
  int v = (int)parse_u(&c);
  int *a = l[1] == 'g' ? s->groups : l[1] == 'p' ? s->pids : 0, *n = l[1] == 'g' ? &s->ngroups : &s->npids;
  if (!a || *c) return;
  if (add) set_add(a, n, MAX_IDS, v); else set_del(a, n, v);
}

/* The master's pipe, until it ends. */
static void serve(struct state *s) {
  char in[4096];
  long interval = FAST_MS, due = now_ms() + FAST_MS;
  for (;;) {
    struct pollfd_ p;
    struct timespec_ t, *tp = 0;
    long r, wait;
    p.fd = 0; p.events = POLLIN; p.revents = 0;
    if (s->flags & F_TREE) {
      wait = due - now_ms();
      if (wait < 0) wait = 0;
      t.sec = wait / 1000; t.nsec = (wait % 1000) * 1000000; tp = &t;
    }
    r = S5(NR_ppoll, &p, 1, tp, 0, 8);
    if (r == -EINTR) continue;
    if (r < 0) { say(s, "error", "guard: ppoll on the master's pipe failed; exiting (the master starts another)", "guard.error"); S1(NR_exit_group, 1); }
    if (r > 0) {
      r = read_(0, in, sizeof in);
      if (r == -EAGAIN) continue;
      if (r < 0) { say(s, "error", "guard: reading the master's pipe failed; exiting (the master starts another)", "guard.error"); S1(NR_exit_group, 1); }
      if (r == 0) return;
      for (long i = 0; i < r; i++) {
        if (in[i] != '\n') { if (s->linelen < PATH - 1) s->line[s->linelen++] = in[i]; continue; }
        s->line[s->linelen] = 0; s->linelen = 0;
        on_line(s, s->line);
      }
      /* A worker came or went: its tree is worth a look soon. */
      interval = FAST_MS;
      if (due > now_ms() + FAST_MS) due = now_ms() + FAST_MS;
    }
    if ((s->flags & F_TREE) && now_ms() >= due) {
      interval = read_tree(s) ? FAST_MS : (interval * 2 > SLOW_MS ? SLOW_MS : interval * 2);
      due = now_ms() + interval;
    }
  }
}

/* Reports the first failure to the waiting parent and ends. */
static void fail(int fd, int step, long e) {
  int w[2];
  w[0] = step; w[1] = (int)-e;
  write_(fd, w, sizeof w); /* nobody to tell if this fails: the parent then times out */
  S1(NR_exit_group, 1);
}

/* Windows of memory the child keeps inside mappings it otherwise drops. */
struct window { u64 lo, hi; };

/* TinyCC's run-time block (tccrun.c, tcc_relocate_ex) is one malloc'ed
   area: .text first (the page-aligned start, mprotected rwx), then
   read-only data, .data, .bss and last the GOT its calls to libc go
   through. In Bun it lies inside the malloc arena, next to the master's
   heap. So the child keeps from the start of the code up to a little past
   this, the last object in .bss: the GOT (8 bytes per libc function) fits
   in TAIL_KEEP. Were that ever wrong, the child would fault at its first
   libc call after unmapping, before its ready word: the master then runs
   the Bun guard instead. */
static char tail_mark;
#define TAIL_KEEP 8192

/* Unmaps [lo, hi) but the windows (sorted, disjoint). */
static void unmap_but(u64 lo, u64 hi, struct window *w, int nw) {
  u64 at = lo;
  for (int i = 0; i < nw && at < hi; i++) {
    if (w[i].hi <= at || w[i].lo >= hi) continue;
    if (w[i].lo > at) S2(NR_munmap, at, w[i].lo - at); /* failing only costs memory ([vsyscall] cannot go) */
    at = w[i].hi;
  }
  if (at < hi) S2(NR_munmap, at, hi - at);
}

/* Parses "lo-hi perms offset dev inode   name" of /proc/self/maps. */
static const char *map_line(const char *c, u64 *lo, u64 *hi, const char **id) {
  int sp = 0;
  *lo = 0; *hi = 0;
  for (; *c && *c != '-'; c++) *lo = *lo * 16 + (u64)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
  for (c++; *c && *c != ' '; c++) *hi = *hi * 16 + (u64)(*c <= '9' ? *c - '0' : *c - 'a' + 10);
  for (*id = c; **id && sp < 3; (*id)++) if (**id == ' ') sp++;
  for (c = *id; *c && *c != ' '; c++) ; /* dev */
  for (; *c == ' '; c++) ;
  for (; *c && *c != ' '; c++) ; /* inode */
  for (; *c == ' '; c++) ;
  return c; /* the name, or "" */
}

/* Everything but what the child still needs goes: see the top of the file. */
static long unmap_rest(u64 *anchors, int na, struct window *w, int nw, u64 code, u64 arg_start) {
  char buf[4096], line[512], libc_id[64];
  int pass, len = 0, fd;
  long n = 0;
  libc_id[0] = 0;
  for (pass = 0; pass < 2; pass++) {
    fd = open_("/proc/self/maps", 0);
    if (fd < 0) return fd;
    while ((n = read_(fd, buf, sizeof buf)) > 0) {
      for (long i = 0; i < n; i++) {
        const char *id, *name;
        u64 lo, hi;
        int keep = 0;
        if (buf[i] != '\n') { if (len < (int)sizeof line - 1) line[len++] = buf[i]; continue; }
        line[len] = 0; len = 0;
        name = map_line(line, &lo, &hi, &id);
        if (pass == 0) {
          /* libc's "dev inode " (the trailing space tells inode 12 from 123) */
          if ((u64)syscall >= lo && (u64)syscall < hi) {
            char *d = libc_id;
            while (*id && *id != ' ' && d < libc_id + 30) *d++ = *id++;
            *d++ = ' ';
            while (*id == ' ') id++;
            while (*id && *id != ' ' && d < libc_id + 61) *d++ = *id++;
            *d++ = ' '; *d = 0;
          }
          if (code >= lo && code < hi) w[0].lo = lo; /* the code's first page: TinyCC's block starts there */
          if (arg_start >= lo && arg_start < hi) w[nw - 1].hi = hi;
          continue;
        }
        for (int a = 0; a < na; a++) if (anchors[a] >= lo && anchors[a] < hi) keep = 1;
        if (libc_id[0] && starts(id, libc_id)) keep = 1;
        if (name[0] == '[' && name[1] == 'v') keep = 1; /* [vdso], [vvar], [vvar_vclock], [vsyscall] */
        if (!keep) unmap_but(lo, hi, w, nw);
      }
    }
    close_(fd);
    if (n < 0) return n;
    if (pass == 1) break;
    if (!libc_id[0] || !w[0].lo) return -ENOENT;
    /* sort the windows by start (four at most) */
    for (int i = 1; i < nw; i++) for (int j = i; j > 0 && w[j].lo < w[j - 1].lo; j--) { struct window t; t.lo = w[j].lo; t.hi = w[j].hi; w[j].lo = w[j - 1].lo; w[j].hi = w[j - 1].hi; w[j - 1].lo = t.lo; w[j - 1].hi = t.hi; }
  }
  return 0;
}

/* The command line `ps` shows, "sup __guard <master>", written over the argv
   strings the child inherited (NUL-separated, as execve lays them out). */
static void retitle(struct state *s, u64 arg_start, u64 arg_end) {
  char t[64], *q = cat3(t, "sup __guard ", "", "");
  size_t n;
  fmt_u(q, (u64)s->master);
  n = slen(t);
  for (u64 a = arg_start, i = 0; a < arg_end; a++, i++) *(char *)a = i < n && t[i] != ' ' ? t[i] : 0;
}

static int guard_child(void *arg) {
  struct start *a = arg;
  struct state *s;
  struct ksigaction act;
  int in, ready, sig;
  long r;
  u64 anchors[2], arg_start = 0, arg_end = 0;
  struct window w[4];

  /* 1. Every handler back to the default: they point into code about to go. */
  act.handler = 0; act.flags = 0; act.restorer = 0; act.mask = 0;
  for (sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    act.handler = sig == SIGPIPE ? 1 : 0; /* SIG_IGN: a closed stderr is an error, not a death */
    r = S4(NR_rt_sigaction, sig, &act, 0, 8);
    if (r < 0) fail(a->ready_fd, 1, r);
  }
  /* 2. State of its own, and the arguments copied in before their memory goes. */
  r = S6(NR_mmap, 0, sizeof(struct state), PROT_RW, MAP_PRIVATE_ANON, -1, 0);
  if (r < 0) fail(a->ready_fd, 2, r);
  s = (struct state *)r;
  s->master = a->master; s->flags = a->flags;
  copyz(s->rundir, a->rundir, PATH); copyz(s->root, a->root, PATH); copyz(s->home, a->home, PATH);
  /* 3. A session of its own: no terminal's or group's signal reaches it. */
  r = S0(NR_setsid);
  if (r < 0) fail(a->ready_fd, 3, r);
  s->self = (int)r;
  /* 4. The pipe becomes fd 0, the parent's word fd 1; fd 2 stays; every other fd goes. */
  /* (through fds >= 10 first: either could be 0 or 1 already) */
  in = (int)S3(NR_fcntl, a->in_fd, F_DUPFD, 10);
  ready = (int)S3(NR_fcntl, a->ready_fd, F_DUPFD, 10);
  if (in < 0 || ready < 0) fail(a->ready_fd, 4, in < 0 ? in : ready);
  if ((r = S3(NR_dup3, in, 0, 0)) < 0 || (r = S3(NR_dup3, ready, 1, 0)) < 0) fail(ready, 4, r);
  r = S3(NR_close_range, 3, 0xffffffffL, 0);
  if (r == -ENOSYS) for (int fd = 3; fd < 65536; fd++) S1(NR_close, fd); /* before Linux 5.9; EBADF for most */
  else if (r < 0) fail(1, 5, r);
  /* 5. Pin no directory; leave sup's cgroup subtree, so that it can be removed after the master. */
  if ((r = S1(NR_chdir, "/")) < 0) fail(1, 6, r);
  if (s->home[0]) { cat3(s->path, s->home, "/cgroup.procs", ""); if ((r = put(s->path, "0")) < 0) fail(1, 7, r); }
  if ((r = S5(NR_prctl, PR_SET_NAME, "sup-guard", 0, 0, 0)) < 0) fail(1, 8, r);
  /* 6. Its command line's place (proc(5) fields 48, 49), then unmap. */
  if (slurp("/proc/self/stat", s->buf, 4096) > 0) {
    const char *c = s->buf + slen(s->buf);
    int field = 3;
    while (c > s->buf && *c != ')') c--;
    for (c += 2; *c && field < 48; field++) { while (*c && *c != ' ') c++; if (*c) c++; }
    arg_start = parse_u(&c); if (*c) c++; arg_end = parse_u(&c);
  }
  /* Kept whole: libc (by inode), its TLS for this thread (errno), the vDSO.
     Kept as windows, since a fresh anonymous mapping may have merged with
     the master's: TinyCC's block, the state, the stack, the command line. */
  anchors[0] = (u64)__errno_location(); anchors[1] = (u64)pthread_self();
  w[0].lo = 0; w[0].hi = (((u64)&tail_mark) & ~4095UL) + TAIL_KEEP;
  w[1].lo = (u64)s & ~4095UL; w[1].hi = ((u64)s + sizeof(struct state) + 4095) & ~4095UL;
  w[2].lo = a->stack; w[2].hi = a->stack + STACK;
  w[3].lo = arg_start & ~4095UL; w[3].hi = w[3].lo; /* to the end of its mapping */
  if ((r = unmap_rest(anchors, 2, w, arg_start ? 4 : 3, (u64)guard_child, arg_start)) < 0) fail(1, 9, r);
  if (arg_start && arg_end > arg_start) retitle(s, arg_start, arg_end);
  /* 7. Ready: the parent returns our pid to the master. */
  { int w[2]; w[0] = 0; w[1] = 0; if (write_(1, w, sizeof w) != sizeof w) S1(NR_exit_group, 1); }
  close_(1);
  if (s->flags & F_TREE) read_tree(s);
  serve(s);
  if (!s->bye) on_master_death(s);
  S1(NR_exit_group, 0);
  return 0;
}

/* In the master: the guard's pid, or -(step * 1000 + errno) when it could not start (step 100: no word in 5 s). */
int guard_start(int in_fd, int master, int flags, const char *rundir, const char *root, const char *home) {
  struct start a;
  struct pollfd_ p;
  struct timespec_ t;
  u64 all[16], old[16];
  int rp[2], w[2], pid, cerr, i, info[32];
  char *stack;
  long n = 0, r;
  if ((r = S2(NR_pipe2, rp, O_CLOEXEC)) < 0) return (int)r;
  a.in_fd = in_fd; a.ready_fd = rp[1]; a.master = master; a.flags = flags; a.rundir = rundir; a.root = root; a.home = home;
  r = S6(NR_mmap, 0, STACK, PROT_RW, MAP_PRIVATE_ANON | MAP_STACK, -1, 0);
  if (r < 0) { close_(rp[0]); close_(rp[1]); return (int)r; }
  stack = (char *)r;
  a.stack = (u64)stack;
  /* No signal handler of the master may run in the child before it resets them. */
  for (i = 0; i < 16; i++) all[i] = ~0UL;
  if ((cerr = pthread_sigmask(2, all, old)) != 0) { S2(NR_munmap, stack, STACK); close_(rp[0]); close_(rp[1]); return -cerr; }
  pid = clone(guard_child, stack + STACK, SIGCHLD, &a);
  cerr = pid < 0 ? err() : 0;
  /* SIG_SETMASK with the mask read a moment ago: EINVAL is for a bad `how` only (sigprocmask(2)). */
  if ((i = pthread_sigmask(2, old, 0)) != 0 && pid > 0) { kill_(pid, SIGKILL); pid = -1; cerr = i; }
  S2(NR_munmap, stack, STACK); /* our copy; the child has its own. Failing leaves 256 KiB mapped. */
  close_(rp[1]);
  if (pid < 0) { close_(rp[0]); return -(200000 + cerr); }
  p.fd = rp[0]; p.events = POLLIN; p.revents = 0; t.sec = 5; t.nsec = 0;
  do r = S5(NR_ppoll, &p, 1, &t, 0, 8); while (r == -EINTR);
  if (r == 1) n = read_(rp[0], w, sizeof w);
  close_(rp[0]);
  if (n == sizeof w && w[0] == 0) return pid;
  kill_(pid, SIGKILL);
  do r = S5(NR_waitid, 1, pid, info, 4, 0); while (r == -EINTR); /* P_PID, WEXITED: reap it */
  return n == sizeof w ? -(w[0] * 1000 + w[1]) : -100000;
}
