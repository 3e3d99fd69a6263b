#ifndef CSKEINSPAWN_H
#define CSKEINSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` in `cwd`, its stdin, stdout and stderr on the three
/// descriptors, as the leader of a new process group, and killed (SIGKILL) if Skein dies
/// first (Linux's PR_SET_PDEATHSIG). Returns 0 and sets `*pid`, or an errno value: the
/// child's `chdir` or `execve` failure comes back here, not as an exit status.
int skein_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid);

/// pipe2(fds, O_CLOEXEC), which Swift's Glibc module does not import (it is a GNU call).
int skein_pipe_cloexec(int fds[2]);

#endif
