/*
 * Seed app: the chat, in C, in callback mode. A client emits `toServer` with
 * {nome, msg}; the server sends "nome:msg" as `toClient` to the sender and, separately, to
 * everyone else. `target/c/chat [port] [static dir] [socket.io.js]`, page examples/web.
 */
#define _POSIX_C_SOURCE 200809L
#include <rtio.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rtio_server *server;

/* `"text"` as JSON (quotes, backslashes and control characters escaped), malloc'ed. */
static char *json_array_of_string(const char *text) {
  char *out = malloc(strlen(text) * 6 + 5), *p = out;
  *p++ = '[';
  *p++ = '"';
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    if (*c == '"' || *c == '\\') *p++ = '\\';
    if (*c < 0x20) {
      p += sprintf(p, "\\u%04x", *c);
      continue;
    }
    *p++ = (char)*c;
  }
  strcpy(p, "\"]");
  return out;
}

static void on_event(const rtio_event *ev, void *user_data) {
  (void)user_data;
  if (rtio_event_get_type(ev) != RTIO_EVENT_TYPE_MESSAGE) return;
  if (strcmp(rtio_event_name(ev, NULL), "toServer") != 0) return;
  size_t len = 0;
  const char *data = rtio_event_data(ev, &len);
  char *nome = NULL, *msg = NULL;
  rtio_json_get_string(data, len, "/0/nome", &nome);
  rtio_json_get_string(data, len, "/0/msg", &msg);
  size_t n = strlen(nome ? nome : "") + strlen(msg ? msg : "") + 2;
  char *line = malloc(n);
  snprintf(line, n, "%s:%s", nome ? nome : "", msg ? msg : "");
  char *json = json_array_of_string(line);
  const char *sid = rtio_event_sid(ev);
  rtio_emit(server, sid, "toClient", json, strlen(json), NULL, 0);
  rtio_broadcast_opts others = {.except_sid = sid};
  rtio_broadcast(server, &others, "toClient", json, strlen(json), NULL, 0, NULL);
  free(json);
  free(line);
  rtio_string_free(nome);
  rtio_string_free(msg);
}

int main(int argc, char **argv) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  rtio_config *config = rtio_config_new();
  rtio_config_set_host(config, "127.0.0.1");
  rtio_config_set_port(config, (uint16_t)(argc > 1 ? atoi(argv[1]) : 3000));
  if (argc > 2) rtio_config_set_static_dir(config, argv[2]);
  if (argc > 3) rtio_config_set_client_bundle(config, argv[3]);
  rtio_config_set_callback(config, on_event, NULL);
  rtio_status st = rtio_server_start(config, &server);
  rtio_config_free(config);
  if (st != RTIO_STATUS_OK) {
    fprintf(stderr, "cannot start: %s\n", rtio_last_error());
    return 1;
  }
  uint16_t port = 0;
  rtio_server_port(server, &port);
  printf("chat on http://127.0.0.1:%u/\n", port);
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  rtio_server_free(server);
  return 0;
}
