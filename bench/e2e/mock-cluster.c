/*
 * mock-cluster: librdkafka's in-memory mock cluster (rdkafka_mock.h) as a process, the
 * "client ceiling" of the end-to-end benchmarks and a stand-in broker to prove the
 * conformance runners work before bunka serves Kafka APIs.
 *
 * Usage: mock-cluster <brokers> [topic:partitions ...]
 *   Starts <brokers> mock brokers on 127.0.0.1 (ephemeral ports), creates the listed topics
 *   (others are auto-created with the mock's default partition count), prints ONE line with
 *   the bootstrap servers on stdout, then runs until SIGTERM/SIGINT or EOF on stdin
 *   (MOCK_IGNORE_STDIN=1: signals only, for shells that start it with stdin at /dev/null).
 * Exit: 0 on a clean stop, 2 on bad arguments, 1 when the cluster cannot start.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 0;
  if (brokers < 1 || brokers > 64) {
    fprintf(stderr, "usage: %s <brokers 1..64> [topic:partitions ...]\n", argv[0]);
    return 2;
  }
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", err); return 1; }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) { fprintf(stderr, "rd_kafka_mock_cluster_new failed\n"); return 1; }
  for (int i = 2; i < argc; i++) {
    char *colon = strrchr(argv[i], ':');
    int partitions = colon ? atoi(colon + 1) : 0;
    if (!colon || partitions < 1) { fprintf(stderr, "bad topic spec '%s' (want name:partitions)\n", argv[i]); return 2; }
    *colon = '\0';
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], partitions, brokers < 3 ? brokers : 3);
    if (e) { fprintf(stderr, "topic %s: %s\n", argv[i], rd_kafka_err2str(e)); return 1; }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal; /* no SA_RESTART: read() below returns EINTR on a signal */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  const char *ignore = getenv("MOCK_IGNORE_STDIN");
  int watch_stdin = !(ignore && strcmp(ignore, "1") == 0);
  char buf[256];
  while (!stop) {
    if (!watch_stdin) { pause(); continue; }
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n == 0) break;                           /* EOF: the parent went away */
    if (n < 0 && errno != EINTR) watch_stdin = 0; /* no usable stdin: signals only */
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
