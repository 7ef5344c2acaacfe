/*
 * rtio inside libmicrohttpd: glue that hands the Engine.IO path of an MHD daemon to rtio.
 * Header-only (static functions); include it in one .c file. Used by microhttpd_server.c and
 * by scenarios_server.c --embedded.
 *
 *   - Polling requests (and handshakes, CORS preflights) go to rtio_handle_request once their
 *     body is read; the MHD connection is suspended (MHD_suspend_connection) until the
 *     RTIO_EVENT_TYPE_HTTP_RESPONSE event with the request's token arrives, which may be a
 *     long-poll's whole wait; rtio_mhd_on_event stores the answer and resumes it, and MHD
 *     calls the handler again to queue it.
 *   - A WebSocket handshake is given, before MHD answers anything, to rtio_adopt_websocket:
 *     rtio writes the 101 itself (MHD's upgrade API cannot be used: MHD would write its own
 *     101 before handing the socket over, while rtio must answer the handshake - unknown
 *     session, request gate, bad key - itself). rtio gets a dup(2) of the socket; MHD's
 *     descriptor is then pointed at a fresh unconnected socket (dup2) so that MHD closing
 *     "its" connection (shutdown + close) cannot end the WebSocket, and the handler returns
 *     MHD_NO so MHD forgets the connection. This needs MHD's poll (or select) mode, not
 *     epoll: an epoll set would still watch the socket through rtio's duplicate.
 *
 * Threads: MHD's internal polling thread runs the handler; rtio_mhd_on_event runs on rtio's
 * dispatcher thread (callback mode) or wherever the host polls; one mutex guards the pending
 * requests.
 */
#ifndef RTIO_MICROHTTPD_H
#define RTIO_MICROHTTPD_H

#include <rtio.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bigger request bodies are refused (413) before rtio sees them (rtio's max payload is
 * smaller by default, and answers itself with its own limit). */
#define RTIO_MHD_MAX_BODY (64u * 1024u * 1024u)

/* One request to the Engine.IO path, from MHD's URI log callback to its completion. */
typedef struct rtio_mhd_req {
  struct MHD_Connection *conn;
  char *uri; /* path and query, raw */
  char *body;
  size_t body_len;
  bool started; /* the first call (headers only) came */
  bool is_get;
  bool counted; /* in rtio_mhd.inflight */
  bool submitted;
  uint64_t token;
  bool answered; /* status/headers/body hold the answer */
  unsigned status;
  size_t header_count;
  char **header_names, **header_values;
  uint8_t *answer;
  size_t answer_len;
  struct rtio_mhd_req *next_pending;
} rtio_mhd_req;

typedef struct rtio_mhd {
  rtio_server *server;
  /* The Engine.IO path, as configured in rtio (rtio_config_set_path); "/socket.io/" if NULL. */
  const char *path;
  /* When set, GET <path>socket.io.js answers this file (the socket.io-client bundle), as
   * rtio's own listener does with rtio_config_set_client_bundle. */
  const char *client_bundle;
  /* Every other request goes here (NULL: 404). */
  MHD_AccessHandlerCallback page;
  void *page_cls;
  struct MHD_Daemon *daemon;
  char *bundle; /* client_bundle's contents, read by rtio_mhd_start */
  size_t bundle_len;
  pthread_mutex_t lock;
  pthread_cond_t done;   /* signalled when a submitted request completes */
  rtio_mhd_req *pending; /* submitted, not answered yet */
  size_t inflight;       /* submitted, not completed yet (answered or not) */
} rtio_mhd;

static void *rtio_mhd_uri_log_(void *cls, const char *uri, struct MHD_Connection *conn) {
  (void)cls;
  rtio_mhd_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->conn = conn;
  r->uri = strdup(uri);
  return r;
}

static void rtio_mhd_req_free_(rtio_mhd_req *r) {
  if (!r) return;
  for (size_t i = 0; i < r->header_count; i++) {
    free(r->header_names[i]);
    free(r->header_values[i]);
  }
  free(r->header_names);
  free(r->header_values);
  free(r->answer);
  free(r->body);
  free(r->uri);
  free(r);
}

static void rtio_mhd_completed_(void *cls, struct MHD_Connection *conn, void **req_cls,
                                enum MHD_RequestTerminationCode toe) {
  (void)conn;
  (void)toe;
  rtio_mhd *m = cls;
  rtio_mhd_req *r = *req_cls;
  if (!r) return;
  pthread_mutex_lock(&m->lock);
  for (rtio_mhd_req **p = &m->pending; *p; p = &(*p)->next_pending) {
    if (*p == r) {
      *p = r->next_pending;
      break;
    }
  }
  if (r->counted) {
    m->inflight--;
    pthread_cond_broadcast(&m->done);
  }
  pthread_mutex_unlock(&m->lock);
  rtio_mhd_req_free_(r);
  *req_cls = NULL;
}

/* The request's headers, for rtio (names and values borrowed from MHD). */
typedef struct {
  rtio_http_header *items;
  size_t len, cap;
} rtio_mhd_headers_;

static enum MHD_Result rtio_mhd_header_(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value) {
  (void)kind;
  rtio_mhd_headers_ *h = cls;
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    rtio_http_header *items = realloc(h->items, cap * sizeof *items);
    if (!items) return MHD_NO;
    h->items = items;
    h->cap = cap;
  }
  h->items[h->len].name = key;
  h->items[h->len].value = value ? value : "";
  h->len++;
  return MHD_YES;
}

/* The request in rtio's form; `headers` and `addr` hold what it points to. */
static rtio_http_request rtio_mhd_request_(struct MHD_Connection *conn, const char *method,
                                           rtio_mhd_req *r, rtio_mhd_headers_ *headers,
                                           char *addr, size_t addr_cap) {
  MHD_get_connection_values(conn, MHD_HEADER_KIND, rtio_mhd_header_, headers);
  addr[0] = '\0';
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info && info->client_addr) {
    char ip[INET6_ADDRSTRLEN] = "";
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
      const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
      inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
      snprintf(addr, addr_cap, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
      snprintf(addr, addr_cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
  }
  rtio_http_request req = {.method = method,
                           .url = r->uri,
                           .headers = headers->items,
                           .headers_len = headers->len,
                           .body = (const uint8_t *)r->body,
                           .body_len = r->body_len,
                           .remote_addr = addr[0] ? addr : NULL};
  return req;
}

static enum MHD_Result rtio_mhd_plain_(struct MHD_Connection *conn, unsigned status,
                                       const char *text) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* Gives the connection of a WebSocket handshake to rtio (see the top comment). */
static enum MHD_Result rtio_mhd_adopt_(rtio_mhd *m, struct MHD_Connection *conn,
                                       const char *method, rtio_mhd_req *r) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!info) return MHD_NO;
  int fd = info->connect_fd;
  int mine = dup(fd);
  if (mine < 0) return rtio_mhd_plain_(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "dup failed\n");
  rtio_mhd_headers_ headers = {0};
  char addr[80];
  rtio_http_request req = rtio_mhd_request_(conn, method, r, &headers, addr, sizeof addr);
  /* No early bytes: a WebSocket client sends nothing before the 101. */
  rtio_status st = rtio_adopt_websocket(m->server, mine, &req, NULL, 0);
  free(headers.items);
  if (st != RTIO_STATUS_OK) {
    fprintf(stderr, "rtio_adopt_websocket: %s\n", rtio_last_error());
    close(mine);
    return rtio_mhd_plain_(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable\n");
  }
  int dummy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (dummy >= 0) {
    dup2(dummy, fd);
    close(dummy);
  }
  return MHD_NO;
}

static bool rtio_mhd_is_engineio_(const rtio_mhd *m, const char *url) {
  const char *path = m->path ? m->path : "/socket.io/";
  size_t n = strlen(path);
  /* "/socket.io" without the slash is the same endpoint. */
  return strncmp(url, path, n) == 0 || (strncmp(url, path, n - 1) == 0 && url[n - 1] == '\0');
}

static enum MHD_Result rtio_mhd_handler_(void *cls, struct MHD_Connection *conn, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **req_cls) {
  rtio_mhd *m = cls;
  rtio_mhd_req *r = *req_cls;
  if (!rtio_mhd_is_engineio_(m, url)) {
    if (m->page) {
      return m->page(m->page_cls, conn, url, method, version, upload_data, upload_data_size,
                     req_cls);
    }
    if (*upload_data_size) {
      *upload_data_size = 0;
      return MHD_YES;
    }
    return rtio_mhd_plain_(conn, MHD_HTTP_NOT_FOUND, "not found\n");
  }
  if (!r) return MHD_NO;
  if (m->bundle && strcmp(method, "GET") == 0 && strncmp(url, "/", 1) == 0) {
    const char *slash = strrchr(url, '/');
    if (strcmp(slash, "/socket.io.js") == 0) {
      struct MHD_Response *resp =
          MHD_create_response_from_buffer(m->bundle_len, m->bundle, MHD_RESPMEM_PERSISTENT);
      MHD_add_response_header(resp, "Content-Type", "application/javascript; charset=utf-8");
      enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
      MHD_destroy_response(resp);
      return ret;
    }
  }
  if (r->answered) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->answer_len, r->answer, MHD_RESPMEM_MUST_COPY);
    for (size_t i = 0; i < r->header_count; i++) {
      MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
    }
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
  }
  if (r->submitted) return MHD_YES; /* resumed without an answer: cannot happen */
  const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
  if (upgrade && strcasecmp(upgrade, "websocket") == 0) return rtio_mhd_adopt_(m, conn, method, r);
  if (!r->started) {
    /* MHD's first call has the headers only; the body (if any) follows. */
    r->started = true;
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (r->body_len + *upload_data_size > RTIO_MHD_MAX_BODY) {
      *upload_data_size = 0;
      r->submitted = true;
      return rtio_mhd_plain_(conn, 413, "too large\n");
    }
    char *body = realloc(r->body, r->body_len + *upload_data_size);
    if (!body) return MHD_NO;
    memcpy(body + r->body_len, upload_data, *upload_data_size);
    r->body = body;
    r->body_len += *upload_data_size;
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* The whole request is read: hand it over and wait, suspended, for the answer. */
  rtio_mhd_headers_ headers = {0};
  char addr[80];
  rtio_http_request req = rtio_mhd_request_(conn, method, r, &headers, addr, sizeof addr);
  r->submitted = true;
  r->is_get = strcmp(method, "GET") == 0;
  /* Suspend before submitting: the answer may come at once, and resuming works only on a
   * suspended connection. The lock makes the token known before the event looks it up. */
  pthread_mutex_lock(&m->lock);
  MHD_suspend_connection(conn);
  rtio_status st = rtio_handle_request(m->server, &req, &r->token);
  if (st == RTIO_STATUS_OK) {
    r->next_pending = m->pending;
    m->pending = r;
    m->inflight++;
    r->counted = true;
  } else {
    /* A poll of a session while rtio stops: the session is over, which Engine.IO says with
     * the close packet (the client then reports a clean "transport close"). */
    bool closing = st == RTIO_STATUS_STOPPED && r->is_get && strstr(r->uri, "sid=") != NULL;
    const char *text = closing ? "1" : "unavailable\n";
    r->answered = true;
    r->status = closing ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    r->answer = (uint8_t *)strdup(text);
    r->answer_len = r->answer ? strlen(text) : 0;
    MHD_resume_connection(conn);
  }
  pthread_mutex_unlock(&m->lock);
  free(headers.items);
  return MHD_YES;
}

/* Call for every rtio event (from the callback, or after rtio_server_poll). Returns true when
 * it was an HTTP answer for this glue (nothing else to do with it). */
static bool rtio_mhd_on_event(rtio_mhd *m, const rtio_event *ev) {
  if (rtio_event_get_type(ev) != RTIO_EVENT_TYPE_HTTP_RESPONSE) return false;
  uint64_t token = rtio_event_token(ev);
  pthread_mutex_lock(&m->lock);
  for (rtio_mhd_req **p = &m->pending; *p; p = &(*p)->next_pending) {
    rtio_mhd_req *r = *p;
    if (r->token != token) continue;
    *p = r->next_pending;
    size_t n = rtio_event_header_count(ev), len = 0;
    const uint8_t *body = rtio_event_body(ev, &len);
    r->header_names = calloc(n ? n : 1, sizeof(char *));
    r->header_values = calloc(n ? n : 1, sizeof(char *));
    r->answer = malloc(len ? len : 1);
    if (r->header_names && r->header_values && r->answer) {
      for (size_t i = 0; i < n; i++) {
        r->header_names[i] = strdup(rtio_event_header_name(ev, i));
        r->header_values[i] = strdup(rtio_event_header_value(ev, i));
      }
      r->header_count = n;
      if (len) memcpy(r->answer, body, len);
      r->answer_len = len;
      r->status = rtio_event_status(ev);
    } else {
      r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->answered = true;
    MHD_resume_connection(r->conn);
    break;
  }
  pthread_mutex_unlock(&m->lock);
  return true;
}

/* Starts MHD on 127.0.0.1:`port` (0: any free port) serving `m`. 0 on success. */
static int rtio_mhd_start(rtio_mhd *m, uint16_t port) {
  if (m->client_bundle) {
    FILE *f = fopen(m->client_bundle, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    m->bundle = malloc(size > 0 ? (size_t)size : 1);
    m->bundle_len = m->bundle && size > 0 ? fread(m->bundle, 1, (size_t)size, f) : 0;
    fclose(f);
  }
  pthread_mutex_init(&m->lock, NULL);
  pthread_cond_init(&m->done, NULL);
  m->pending = NULL;
  m->inflight = 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  m->daemon = MHD_start_daemon(
      MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
      port, NULL, NULL, rtio_mhd_handler_, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_URI_LOG_CALLBACK, rtio_mhd_uri_log_, m, MHD_OPTION_NOTIFY_COMPLETED,
      rtio_mhd_completed_, m, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
  return m->daemon ? 0 : -1;
}

static uint16_t rtio_mhd_port(const rtio_mhd *m) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : 0;
}

/* Stops MHD. Call after rtio_server_stop, which answers the waiting long-polls (the close
 * packet); those answers are written before MHD stops (up to 2 s). A request rtio left
 * unanswered gets what rtio's own listener sends a long-poll at shutdown, the close packet,
 * (503 for other methods): MHD cannot stop with suspended connections. */
static void rtio_mhd_stop(rtio_mhd *m) {
  if (!m->daemon) return;
  pthread_mutex_lock(&m->lock);
  for (rtio_mhd_req *r = m->pending; r; r = r->next_pending) {
    r->answered = true;
    if (r->is_get) {
      r->status = MHD_HTTP_OK;
      r->answer = (uint8_t *)strdup("1");
      r->answer_len = r->answer ? 1 : 0;
    } else {
      r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    MHD_resume_connection(r->conn);
  }
  m->pending = NULL;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 2;
  while (m->inflight > 0) {
    if (pthread_cond_timedwait(&m->done, &m->lock, &deadline) != 0) break;
  }
  pthread_mutex_unlock(&m->lock);
  MHD_stop_daemon(m->daemon);
  m->daemon = NULL;
  free(m->bundle);
  m->bundle = NULL;
}

#endif /* RTIO_MICROHTTPD_H */
