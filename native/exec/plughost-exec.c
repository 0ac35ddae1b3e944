/*
 * plughost-exec: starts a plugin with guarantees a Node.js host cannot give
 * by itself, from native code that sits between the host and the plugin:
 *
 *   - nothing of the plugin outlives it: the helper stays the plugin's parent
 *     and, on Linux, a child subreaper (PR_SET_CHILD_SUBREAPER), so every
 *     process the plugin starts -- a grandchild, a double-forked or `setsid`
 *     daemon -- is re-parented to the helper when its own parent dies. When
 *     the plugin exits, or the host dies (PDEATHSIG SIGTERM, or EOF on the
 *     control socket), the helper SIGKILLs and reaps every descendant left;
 *     on macOS (no subreaper) it kills the plugin's process group only;
 *   - the plugin dies with the helper even if the helper is SIGKILLed
 *     (Linux: the plugin's own PR_SET_PDEATHSIG SIGKILL, which survives exec);
 *   - resource limits are enforced by the kernel, not advised, on the plugin
 *     only: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU), open files
 *     (RLIMIT_NOFILE), and core dumps off (RLIMIT_CORE 0);
 *   - the private socket directory goes with the plugin (--socket-dir).
 *
 * usage: plughost-exec [--parent PID] [--control FD] [--socket-dir DIR]
 *                      [--as BYTES] [--cpu SECONDS] [--nofile N] [--core BYTES]
 *                      -- PROGRAM [ARGS...]
 *
 * Control protocol on FD (a socket from the host, never seen by the plugin):
 * the helper writes "pid N\n" once the plugin runs and "exit CODE\n" or
 * "signal SIG\n" the moment it has reaped the plugin (before it cleans up,
 * so the host learns of the death as soon as a parent would); the host writes "SIG\n"
 * (a signal number) to signal the plugin, 9 meaning the plugin and every
 * descendant; EOF means the host is gone. Signals the helper itself gets
 * (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) go to the plugin.
 *
 * The helper exits as the plugin did: the same status, or the same signal
 * raised on itself. Exit 127 with "plughost-exec: ..." on stderr when it
 * cannot set something up (or the plugin cannot be executed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* Signals are only noted in the handler; the main loop acts on them. */
static volatile sig_atomic_t pending[NSIG];
static int wake[2] = {-1, -1}; /* self-pipe: wakes poll() when a signal arrives */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static void on_signal(int sig) {
  int saved = errno;
  pending[sig] = 1;
  ssize_t ignored = write(wake[1], "", 1);
  (void)ignored;
  errno = saved;
}

static pid_t plugin = -1;
static int plugin_status = 0, plugin_reaped = 0;
static int control_fd = -1;

static void note_reaped(pid_t pid, int status) {
  if (pid != plugin) return;
  plugin_status = status, plugin_reaped = 1;
  if (control_fd < 0) return;
  char line[32];
  int len = WIFSIGNALED(status) ? snprintf(line, sizeof line, "signal %d\n", WTERMSIG(status))
                                : snprintf(line, sizeof line, "exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 127);
  ssize_t ignored = write(control_fd, line, (size_t)len);
  (void)ignored;
}

/*
 * Reaps what has exited. The plugin is first waited for without reaping
 * (WNOWAIT): while it is a zombie its pid, and so its process group id,
 * cannot be reused, so killing the group then hits only what it left.
 */
static void reap_available(void) {
  int status;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (!plugin_reaped && waitid(P_PID, (id_t)plugin, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == plugin) {
    kill(-plugin, SIGKILL);
    if (waitpid(plugin, &status, 0) == plugin) note_reaped(plugin, status);
  }
#ifdef __linux__
  pid_t pid; /* orphans re-parented to us, the subreaper */
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) note_reaped(pid, status);
#endif
}

#ifdef __linux__
/* Our children right now, from /proc (which every Linux has; the
 * /proc/PID/task/TID/children file needs CONFIG_PROC_CHILDREN). */
static int list_children(pid_t* out, int max) {
  DIR* proc = opendir("/proc");
  if (proc == NULL) return 0;
  pid_t self = getpid();
  int n = 0;
  struct dirent* e;
  while (n < max && (e = readdir(proc)) != NULL) {
    char* end = NULL;
    long pid = strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    buf[len] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
    char* close_paren = strrchr(buf, ')');
    int ppid;
    if (close_paren == NULL || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) continue;
    if (ppid == self) out[n++] = (pid_t)pid;
  }
  closedir(proc);
  return n;
}
#endif

/*
 * SIGKILLs and reaps everything the plugin left. Each round kills our current
 * children and waits for each; their own children are then re-parented to us
 * (subreaper) and die in the next round, until a round finds none.
 */
static void kill_descendants(void) {
  /* Its process group, even members that are not our children yet (while the
   * unreaped plugin holds the group id; see reap_available). */
  if (!plugin_reaped) kill(-plugin, SIGKILL), kill(plugin, SIGKILL);
#ifdef __linux__
  for (;;) {
    pid_t children[1024];
    int n = list_children(children, 1024);
    if (n == 0) break;
    for (int i = 0; i < n; i++) kill(children[i], SIGKILL);
    for (int i = 0; i < n; i++) {
      int status;
      if (waitpid(children[i], &status, 0) == children[i]) note_reaped(children[i], status);
    }
  }
#endif
  /* The plugin itself; on macOS nothing else is ours to wait for. */
  if (!plugin_reaped) {
    int status;
    if (waitpid(plugin, &status, 0) == plugin) note_reaped(plugin, status);
  }
  reap_available();
}

/* rm -rf of the socket directory, without following symlinks. */
static void remove_tree(int parent_fd, const char* name) {
  int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    DIR* dir = fdopendir(fd);
    if (dir == NULL) {
      close(fd);
    } else {
      struct dirent* e;
      while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        /* Linux says EISDIR for a directory, macOS EPERM. */
        if (unlinkat(fd, e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM)) remove_tree(fd, e->d_name);
      }
      closedir(dir);
    }
  }
  unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* Exits as the plugin did, so the host sees its status or signal. */
static int exit_like(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none); /* the plugin's crash, not a core of ours */
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 128 + sig;
  }
  return 127;
}

int main(int argc, char** argv) {
  unsigned long long parent = 0, control = 0, as = 0, cpu = 0, nofile = 0, core = 0;
  int has_control = 0, has_as = 0, has_cpu = 0, has_nofile = 0, has_core = 0;
  const char* socket_dir = NULL;
  int i = 1;
  for (; i < argc; i++) {
    const char* opt = argv[i];
    if (strcmp(opt, "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) return fail("missing value for", opt);
    if (strcmp(opt, "--socket-dir") == 0) {
      socket_dir = argv[++i];
      continue;
    }
    unsigned long long value;
    if (parse_number(argv[i + 1], &value) != 0) return fail("not a number", argv[i + 1]);
    if (strcmp(opt, "--parent") == 0) parent = value;
    else if (strcmp(opt, "--control") == 0) control = value, has_control = 1;
    else if (strcmp(opt, "--as") == 0) as = value, has_as = 1;
    else if (strcmp(opt, "--cpu") == 0) cpu = value, has_cpu = 1;
    else if (strcmp(opt, "--nofile") == 0) nofile = value, has_nofile = 1;
    else if (strcmp(opt, "--core") == 0) core = value, has_core = 1;
    else return fail("unknown option", opt);
    i++;
  }
  if (i >= argc) return fail("no program to run", NULL);
  if (parent == 0) parent = (unsigned long long)getppid();

#ifdef __linux__
  /* Catchable, so that the helper can take the plugin's descendants with it. */
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) return fail("PR_SET_PDEATHSIG", strerror(errno));
  /* The host may have died before the line above: then we already have a new parent. */
  if ((unsigned long long)getppid() != parent) return fail("the host exited before the plugin started", NULL);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return fail("PR_SET_CHILD_SUBREAPER", strerror(errno));
#endif
  control_fd = has_control ? (int)control : -1;
  if (control_fd >= 0 && fcntl(control_fd, F_SETFD, FD_CLOEXEC) != 0) return fail("--control", strerror(errno));
  if (pipe(wake) != 0) return fail("pipe", strerror(errno));
  for (int k = 0; k < 2; k++) {
    fcntl(wake[k], F_SETFD, FD_CLOEXEC);
    fcntl(wake[k], F_SETFL, O_NONBLOCK);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++) sigaction(forwarded[k], &sa, NULL);

  pid_t helper = getpid();
  plugin = fork();
  if (plugin < 0) return fail("fork", strerror(errno));
  if (plugin == 0) {
    /* The plugin: its own process group, so it and what it starts can be killed as one. */
    setpgid(0, 0);
#ifdef __linux__
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(fail("PR_SET_PDEATHSIG", strerror(errno)));
    if (getppid() != helper) _exit(fail("the host exited before the plugin started", NULL));
#else
    (void)helper;
#endif
    if (has_as && limit(RLIMIT_AS, "RLIMIT_AS", as)) _exit(127);
    if (has_cpu && limit(RLIMIT_CPU, "RLIMIT_CPU", cpu)) _exit(127);
    if (has_nofile && limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile)) _exit(127);
    if (has_core && limit(RLIMIT_CORE, "RLIMIT_CORE", core)) _exit(127);
    execvp(argv[i], argv + i); /* caught signals reset to default here */
    _exit(fail(argv[i], strerror(errno)));
  }
  setpgid(plugin, plugin); /* also here: whichever runs first, the group exists before we signal it */
  signal(SIGPIPE, SIG_IGN);  /* a gone host must not kill us before we clean up */
  if (control_fd >= 0) {
    char line[32];
    int len = snprintf(line, sizeof line, "pid %d\n", (int)plugin);
    ssize_t ignored = write(control_fd, line, (size_t)len);
    (void)ignored;
  }

  int host_gone = 0;
  char command[64];
  size_t command_len = 0;
  while (!plugin_reaped && !host_gone) {
    struct pollfd fds[2] = {{wake[0], POLLIN, 0}, {control_fd, POLLIN, 0}};
    if (poll(fds, control_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) break;
    char drain[64];
    while (read(wake[0], drain, sizeof drain) > 0) {}
    if (pending[SIGCHLD]) pending[SIGCHLD] = 0, reap_available();
    for (size_t k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++) {
      int sig = forwarded[k];
      if (!pending[sig]) continue;
      pending[sig] = 0;
      /* PDEATHSIG and a real SIGTERM look alike: a new parent tells them apart. */
      if ((unsigned long long)getppid() != parent) host_gone = 1;
      else if (!plugin_reaped) kill(plugin, sig);
    }
    if (control_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(control_fd, command + command_len, sizeof command - 1 - command_len);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        host_gone = 1; /* EOF: the host closed its end or died (the only signal macOS gives) */
      } else if (n > 0) {
        command_len += (size_t)n;
        char* newline;
        while ((newline = memchr(command, '\n', command_len)) != NULL) {
          *newline = '\0';
          int sig = atoi(command);
          if (sig == SIGKILL) kill_descendants();
          else if (sig > 0 && sig < NSIG && !plugin_reaped) kill(plugin, sig);
          size_t used = (size_t)(newline - command) + 1;
          memmove(command, newline + 1, command_len - used);
          command_len -= used;
        }
        if (command_len == sizeof command - 1) command_len = 0; /* no newline in a full buffer: garbage */
      }
    }
  }
  kill_descendants();
  if (socket_dir != NULL) remove_tree(AT_FDCWD, socket_dir);
  if (host_gone) return 0; /* nobody is left to read our status */
  return exit_like(plugin_status);
}
