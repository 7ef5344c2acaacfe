/*
 * Seed app: the online visitor counter, in C, in poll mode integrated with epoll.
 * Every page that connects gets the number of connected visitors (`visits`): the newcomer
 * with socket.emit, everyone else with socket.broadcast.emit. The count goes up and down
 * with the connect and disconnect events as they are handled (seed 000's totalUsers), so
 * the numbers sent follow the event order. Open examples/web/index.html
 * through it: `target/c/visitor_counter [port] [static dir] [socket.io.js]`.
 */
#define _POSIX_C_SOURCE 200809L
#include <rtio.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

static size_t visitors = 0;

static void send_count(rtio_server *server, const rtio_event *ev) {
  char json[32];
  int n = snprintf(json, sizeof json, "[%zu]", visitors);
  if (rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT) {
    rtio_emit(server, rtio_event_sid(ev), "visits", json, (size_t)n, NULL, 0);
    rtio_broadcast_opts others = {.except_sid = rtio_event_sid(ev)};
    rtio_broadcast(server, &others, "visits", json, (size_t)n, NULL, 0, NULL);
  } else {
    rtio_broadcast(server, NULL, "visits", json, (size_t)n, NULL, 0, NULL);
  }
}

int main(int argc, char **argv) {
  rtio_config *config = rtio_config_new();
  rtio_config_set_host(config, "127.0.0.1");
  rtio_config_set_port(config, (uint16_t)(argc > 1 ? atoi(argv[1]) : 3000));
  if (argc > 2) rtio_config_set_static_dir(config, argv[2]);
  if (argc > 3) rtio_config_set_client_bundle(config, argv[3]);

  /* SIGINT/SIGTERM arrive on a signalfd, watched by the same epoll as rtio's fd. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, NULL);
  int sig_fd = signalfd(-1, &stop, SFD_CLOEXEC);

  rtio_server *server = NULL;
  rtio_status st = rtio_server_start(config, &server);
  rtio_config_free(config);
  if (st != RTIO_STATUS_OK) {
    fprintf(stderr, "cannot start: %s\n", rtio_last_error());
    return 1;
  }
  uint16_t port = 0;
  rtio_server_port(server, &port);
  printf("visitor counter on http://127.0.0.1:%u/\n", port);
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event watch = {.events = EPOLLIN, .data.fd = rtio_server_fd(server)};
  epoll_ctl(ep, EPOLL_CTL_ADD, rtio_server_fd(server), &watch);
  watch.data.fd = sig_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &watch);

  for (bool running = true; running;) {
    struct epoll_event ready[2];
    int n = epoll_wait(ep, ready, 2, -1);
    for (int i = 0; i < n; i++) {
      if (ready[i].data.fd == sig_fd) {
        running = false;
        continue;
      }
      /* rtio's fd is readable: take every pending event without waiting. */
      rtio_event *ev = NULL;
      while (rtio_server_poll(server, 0, &ev) == RTIO_STATUS_OK && ev) {
        rtio_event_type type = rtio_event_get_type(ev);
        if (type == RTIO_EVENT_TYPE_CONNECT) {
          visitors++;
          send_count(server, ev);
        } else if (type == RTIO_EVENT_TYPE_DISCONNECT) {
          visitors--;
          send_count(server, ev);
        }
        rtio_event_free(ev);
      }
    }
  }
  rtio_server_free(server);
  close(ep);
  close(sig_fd);
  return 0;
}
