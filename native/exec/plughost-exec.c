/*
 * plughost-exec: starts a plugin with guarantees a Node.js host cannot give
 * by itself, set between fork and exec where only native code can act:
 *
 *   - the plugin dies with the host, even when the host is killed with
 *     SIGKILL (Linux: PR_SET_PDEATHSIG, which survives exec);
 *   - resource limits are enforced by the kernel, not advised: address space
 *     (RLIMIT_AS), CPU seconds (RLIMIT_CPU), open files (RLIMIT_NOFILE), and
 *     core dumps off (RLIMIT_CORE 0).
 *
 * usage: plughost-exec [--parent PID] [--as BYTES] [--cpu SECONDS]
 *                      [--nofile N] [--core BYTES] -- PROGRAM [ARGS...]
 *
 * It then becomes PROGRAM (execvp): same PID, nothing left behind. Exit 127
 * with a message on stderr when it cannot set something up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static int fail(const char* what, const char* detail) {
  fprintf(stderr, "plughost-exec: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  return 127;
}

static int parse_number(const char* text, unsigned long long* out) {
  char* end = NULL;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return -1;
  *out = value;
  return 0;
}

static int limit(int resource, const char* name, unsigned long long value) {
  struct rlimit rl;
  rl.rlim_cur = (rlim_t)value;
  rl.rlim_max = (rlim_t)value;
  if (setrlimit(resource, &rl) != 0) return fail(name, strerror(errno));
  return 0;
}

int main(int argc, char** argv) {
  unsigned long long parent = 0, as = 0, cpu = 0, nofile = 0, core = 0;
  int has_as = 0, has_cpu = 0, has_nofile = 0, has_core = 0;
  int i = 1;
  for (; i < argc; i++) {
    const char* opt = argv[i];
    if (strcmp(opt, "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) return fail("missing value for", opt);
    unsigned long long value;
    if (parse_number(argv[i + 1], &value) != 0) return fail("not a number", argv[i + 1]);
    if (strcmp(opt, "--parent") == 0) parent = value;
    else if (strcmp(opt, "--as") == 0) as = value, has_as = 1;
    else if (strcmp(opt, "--cpu") == 0) cpu = value, has_cpu = 1;
    else if (strcmp(opt, "--nofile") == 0) nofile = value, has_nofile = 1;
    else if (strcmp(opt, "--core") == 0) core = value, has_core = 1;
    else return fail("unknown option", opt);
    i++;
  }
  if (i >= argc) return fail("no program to run", NULL);

#ifdef __linux__
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail("PR_SET_PDEATHSIG", strerror(errno));
  /* The host may have died before the line above: then we already have a new parent. */
  if (parent != 0 && (unsigned long long)getppid() != parent) return fail("the host exited before the plugin started", NULL);
#else
  (void)parent;
#endif
  if (has_as && limit(RLIMIT_AS, "RLIMIT_AS", as)) return 127;
  if (has_cpu && limit(RLIMIT_CPU, "RLIMIT_CPU", cpu)) return 127;
  if (has_nofile && limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile)) return 127;
  if (has_core && limit(RLIMIT_CORE, "RLIMIT_CORE", core)) return 127;

  execvp(argv[i], argv + i);
  return fail(argv[i], strerror(errno));
}
