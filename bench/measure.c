/* measure.c: runs a command and reports its wall time and peak RSS, for the
 * benchmark harness (bench/run.sh). The shell has no portable way to read a
 * child's peak RSS, and /usr/bin/time is not installed everywhere; wait4()
 * gives the child's own rusage, so nothing else is counted.
 *
 *   measure [-o OUT] [-t SECONDS] [-n RUNS] CMD [ARGS...]
 *
 * Runs CMD RUNS times (default 1) with its stdout sent to OUT (default
 * /dev/null; stderr is left alone) and prints one line
 *
 *   WALL_SECONDS MAXRSS_KB
 *
 * with the median wall time and the largest peak RSS of the runs. A run that
 * takes longer than SECONDS (default: no limit) is killed. If a run fails
 * (non-zero status or a signal), measure says so on stderr, prints nothing on
 * stdout and exits with status 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_RUNS = 1000 };

typedef struct {
    const char *out_path;
    unsigned timeout;
    int runs;
    char **argv;
} Options;

typedef struct {
    double wall;
    long maxrss_kb;
} Sample;

static void usage(void)
{
    fputs("usage: measure [-o OUT] [-t SECONDS] [-n RUNS] CMD [ARGS...]\n", stderr);
    exit(2);
}

static long parse_count(const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        usage();
    return v;
}

static Options parse_options(int argc, char **argv)
{
    Options o = { "/dev/null", 0, 1, NULL };
    int opt;
    while ((opt = getopt(argc, argv, "+o:t:n:")) != -1) {
        if (opt == 'o')
            o.out_path = optarg;
        else if (opt == 't')
            o.timeout = (unsigned)parse_count(optarg, 1, 86400);
        else if (opt == 'n')
            o.runs = (int)parse_count(optarg, 1, MAX_RUNS);
        else
            usage();
    }
    if (optind >= argc)
        usage();
    o.argv = argv + optind;
    return o;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* In the child: stdout to the output file, a deadline, then the command.
 * alarm() survives exec, so the command itself is killed by SIGALRM. */
static void exec_child(const Options *o)
{
    int fd = open(o->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        fprintf(stderr, "measure: %s: %s\n", o->out_path, strerror(errno));
        _exit(127);
    }
    close(fd);
    if (o->timeout)
        alarm(o->timeout);
    execvp(o->argv[0], o->argv);
    fprintf(stderr, "measure: %s: %s\n", o->argv[0], strerror(errno));
    _exit(127);
}

/* Explains a failed run on stderr; returns whether the run succeeded. */
static int check_status(const Options *o, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFEXITED(status))
        fprintf(stderr, "measure: %s exited with status %d\n", o->argv[0], WEXITSTATUS(status));
    else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        fprintf(stderr, "measure: %s timed out after %u s\n", o->argv[0], o->timeout);
    else if (WIFSIGNALED(status))
        fprintf(stderr, "measure: %s killed by signal %d\n", o->argv[0], WTERMSIG(status));
    return 0;
}

static int run_once(const Options *o, Sample *s)
{
    fflush(stdout);
    double start = now_seconds();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 0;
    }
    if (pid == 0)
        exec_child(o);
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            perror("measure: wait4");
            return 0;
        }
    }
    s->wall = now_seconds() - start;
    s->maxrss_kb = usage.ru_maxrss;
    return check_status(o, status);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    Options o = parse_options(argc, argv);
    double walls[MAX_RUNS];
    long maxrss_kb = 0;
    for (int i = 0; i < o.runs; i++) {
        Sample s;
        if (!run_once(&o, &s))
            return 1;
        walls[i] = s.wall;
        if (s.maxrss_kb > maxrss_kb)
            maxrss_kb = s.maxrss_kb;
    }
    qsort(walls, (size_t)o.runs, sizeof walls[0], compare_doubles);
    double median = o.runs % 2 ? walls[o.runs / 2]
                               : (walls[o.runs / 2 - 1] + walls[o.runs / 2]) / 2;
    printf("%.6f %ld\n", median, maxrss_kb);
    return 0;
}
