// Process start for tools that run (DESIGN.md section 7), written by hand: Foundation's
// Process and posix_spawn cannot ask the kernel to kill the child when Skein dies
// (PR_SET_PDEATHSIG must be set between fork and exec). Without it, a tool running when
// Skein is SIGKILLed finishes its side effect unseen, and the resume runs it a second time.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process, and Swift's
// concurrency threads come and go; so every fork happens on one thread started here that
// lives as long as the process.

#define _GNU_SOURCE
#include "CSkeinSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct job {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int fds[3];
    pid_t pid;
    int error;
    int done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static struct job *pending = NULL;
static pthread_once_t started = PTHREAD_ONCE_INIT;
static int start_error = 0;

static void child(struct job *job, pid_t parent, int report) {
    // Only async-signal-safe calls from here to execve.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // Skein died before prctl took effect.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);  // SIGPIPE was ignored in Skein
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int error = 0;
    if (job->cwd && chdir(job->cwd) != 0) error = errno;
    for (int i = 0; i < 3 && error == 0; i++) {
        if (dup2(job->fds[i], i) < 0) error = errno;
    }
    if (error == 0) {
#ifdef SYS_close_range
        // Everything above stderr closes on exec (the report pipe already does).
        syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
#endif
        execve(job->path, job->argv, job->envp);
        error = errno;
    }
    while (write(report, &error, sizeof error) < 0 && errno == EINTR) {}
    _exit(127);
}

static void run(struct job *job) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        job->error = errno;
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        job->error = errno;
        close(report[0]);
        close(report[1]);
        return;
    }
    if (pid == 0) child(job, parent, report[1]);
    setpgid(pid, pid);  // also here, so the group exists before anyone signals it
    close(report[1]);
    int error = 0;
    ssize_t count;
    do {
        count = read(report[0], &error, sizeof error);
    } while (count < 0 && errno == EINTR);
    close(report[0]);
    if (count == (ssize_t)sizeof error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        job->error = error ? error : ENOEXEC;
        return;
    }
    job->pid = pid;
    job->error = 0;
}

static void *spawner(void *unused) {
    (void)unused;
    pthread_mutex_lock(&slot_lock);
    for (;;) {
        while (pending == NULL) pthread_cond_wait(&job_ready, &slot_lock);
        struct job *job = pending;
        pending = NULL;
        pthread_mutex_unlock(&slot_lock);
        run(job);
        pthread_mutex_lock(&slot_lock);
        job->done = 1;
        pthread_cond_broadcast(&job_done);
    }
    return NULL;
}

static void start(void) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    start_error = pthread_create(&thread, &attributes, spawner, NULL);
    pthread_attr_destroy(&attributes);
}

int skein_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid) {
    pthread_once(&started, start);
    if (start_error) return start_error;
    struct job job = {path, argv, envp, cwd, {stdin_fd, stdout_fd, stderr_fd}, 0, 0, 0};
    pthread_mutex_lock(&lock);
    pthread_mutex_lock(&slot_lock);
    pending = &job;
    pthread_cond_signal(&job_ready);
    while (!job.done) pthread_cond_wait(&job_done, &slot_lock);
    pthread_mutex_unlock(&slot_lock);
    pthread_mutex_unlock(&lock);
    if (job.error == 0) *pid = job.pid;
    return job.error;
}

int skein_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
