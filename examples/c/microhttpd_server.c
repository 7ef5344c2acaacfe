/*
 * rtio embedded in a libmicrohttpd server: MHD serves its own page at `/` and hands
 * `/socket.io/` to rtio (polling through rtio_handle_request, WebSocket handshakes through
 * rtio_adopt_websocket; the glue is rtio_microhttpd.h), all on MHD's port.
 *
 *   microhttpd_server [--port N]      prints `READY <port>` once serving; stops on SIGINT/SIGTERM
 *
 * Events (as the scenarios contract's rows): `message-with-ack` answers its ack with the
 * same arguments; `fanout` with `{event, data}` emits `event` with `data` to every socket.
 * Build: cc microhttpd_server.c $(pkg-config --cflags --libs rtio libmicrohttpd)
 */
#define _POSIX_C_SOURCE 200809L
#include "rtio_microhttpd.h"

#include <signal.h>

static rtio_mhd glue;

static const char PAGE[] =
    "<!doctype html><title>rtio in libmicrohttpd</title>"
    "<h1>rtio in libmicrohttpd</h1><p>Socket.IO is served at /socket.io/ on this port.</p>\n";

/* MHD's own pages: everything that is not the Engine.IO path. */
static enum MHD_Result page(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **req_cls) {
  (void)cls, (void)version, (void)upload_data, (void)req_cls;
  if (*upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  bool found = strcmp(url, "/") == 0 && strcmp(method, "GET") == 0;
  const char *body = found ? PAGE : "not found\n";
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(resp, "Content-Type", found ? "text/html; charset=utf-8" : "text/plain");
  enum MHD_Result ret = MHD_queue_response(conn, found ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void report(const char *what, rtio_status st) {
  if (st != RTIO_STATUS_OK) fprintf(stderr, "%s: %s: %s\n", what, rtio_status_name(st), rtio_last_error());
}

/* On rtio's dispatcher thread. */
static void on_event(const rtio_event *ev, void *user) {
  (void)user;
  if (rtio_mhd_on_event(&glue, ev)) return;
  if (rtio_event_get_type(ev) != RTIO_EVENT_TYPE_MESSAGE) return;
  const char *name = rtio_event_name(ev, NULL);
  size_t len = 0;
  const char *args = rtio_event_data(ev, &len);
  if (strcmp(name, "message-with-ack") == 0 && rtio_event_ack_id(ev) >= 0) {
    report("ack", rtio_ack(glue.server, rtio_event_sid(ev), rtio_event_ack_id(ev), args, len,
                           NULL, 0));
  } else if (strcmp(name, "fanout") == 0) {
    char *event = NULL;
    const char *data = NULL;
    size_t data_len = 0;
    if (rtio_json_get_string(args, len, "/0/event", &event) == RTIO_STATUS_OK &&
        rtio_json_get(args, len, "/0/data", &data, &data_len) == RTIO_STATUS_OK) {
      size_t n = data_len + 3;
      char *array = malloc(n);
      snprintf(array, n, "[%.*s]", (int)data_len, data);
      report("fanout", rtio_broadcast(glue.server, NULL, event, array, n - 1, NULL, 0, NULL));
      free(array);
    }
    rtio_string_free(event);
  }
}

int main(int argc, char **argv) {
  uint16_t port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--port") == 0) port = (uint16_t)strtoul(argv[i + 1], NULL, 10);
  }
  rtio_config *config = rtio_config_new();
  /* libmicrohttpd owns the port: rtio runs no listener of its own. */
  report("listen", rtio_config_set_listen(config, false));
  report("callback", rtio_config_set_callback(config, on_event, NULL));
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* every thread started below inherits it */
  rtio_status st = rtio_server_start(config, &glue.server);
  rtio_config_free(config);
  if (st != RTIO_STATUS_OK) {
    report("rtio_server_start", st);
    return 1;
  }
  glue.page = page;
  if (rtio_mhd_start(&glue, port) != 0) {
    fprintf(stderr, "MHD_start_daemon failed (port %u in use?)\n", port);
    rtio_server_free(glue.server);
    return 1;
  }
  printf("READY %u\n", rtio_mhd_port(&glue));
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  rtio_server_stop(glue.server);
  rtio_mhd_stop(&glue);
  rtio_server_free(glue.server);
  return 0;
}
