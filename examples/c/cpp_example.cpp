// C++ example: an echo and chat server with rtio.hpp (callback mode), checked by its own
// self-test when run with --self-test (used by `make test`).
#include <rtio.h>
#include <rtio.h>  // included twice on purpose: the header guards must hold
#include <rtio.hpp>

#include <chrono>
#include <csignal>
#include <future>
#include <cstring>
#include <iostream>
#include <pthread.h>

int main(int argc, char **argv) {
  const bool self_test = argc > 1 && std::strcmp(argv[1], "--self-test") == 0;
  // Block the stop signals before rtio starts its threads, so only sigwait below sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  rtio::Server *server_ptr = nullptr;
  // The cluster answers arrive on the dispatcher thread: the self-test waits for them here.
  std::promise<size_t> servers;
  std::promise<std::string> server_side_error;
  std::promise<std::string> http_answer;  // "status body content-type" of a handed-over request
  rtio::Config config;
  config.host("127.0.0.1").port(self_test ? 0 : 3000).add_namespace("/chat").on_event(
      [&](const rtio::Event &ev) {
        rtio::Server &io = *server_ptr;
        if (ev.type() == RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE) servers.set_value(ev.count());
        if (ev.type() == RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE) {
          server_side_error.set_value(std::string(ev.error()) + "/" + std::to_string(ev.answers().size()));
        }
        if (ev.type() == RTIO_EVENT_TYPE_HTTP_RESPONSE) {
          std::string type;
          for (auto [name, value] : ev.headers()) {
            if (name == "content-type") type = value;
          }
          http_answer.set_value(std::to_string(ev.status()) + " " + std::string(ev.body().substr(0, 8)) + " " + type);
        }
        if (ev.type() != RTIO_EVENT_TYPE_MESSAGE) return;
        if (ev.name() == "echo" && ev.ack_id()) {
          io.ack(ev.sid(), *ev.ack_id(), ev.data(), ev.attachments());
        } else if (ev.name() == "say") {
          rtio::Broadcast others;
          others.nsp = std::string(ev.nsp());
          others.except_sid = std::string(ev.sid());
          io.broadcast("said", ev.data(), others, ev.attachments());
        }
      });
  rtio::Server server(config);
  server_ptr = &server;
  std::cout << "rtio C++ example on port " << server.port() << std::endl;

  // Misuse surfaces as exceptions with the C status code.
  try {
    server.emit("no-such-socket", "x");
    std::cerr << "expected an exception" << std::endl;
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_UNKNOWN_SOCKET) return 1;
  }
  try {
    server.emit("no-such-socket", "x", "{not json");
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_INVALID_JSON) return 1;
  }
  if (rtio::json_string(R"([{"a":"b"}])", "/0/a").value_or("") != "b") return 1;
  if (server.stats("/chat").first != 0) return 1;
  if (!server.sockets("/chat").empty() || !server.sockets("/", "lobby").empty()) return 1;
  if (server.client_count() != 0) return 1;
  try {
    server.rooms("no-such-socket");
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_UNKNOWN_SOCKET) return 1;
  }
  // The JSON string lists rtio returns (rooms, socket ids) are read with their escapes.
  char *list = nullptr;
  const char *doc = R"(["[\"a\\\"b,\",\"\\u00e9\",\"\"]"])";
  if (rtio_json_get_string(doc, std::strlen(doc), "/0", &list) != RTIO_STATUS_OK) return 1;
  if (rtio::take_string_list(list) != std::vector<std::string>{"a\"b,", "\u00e9", ""}) return 1;
  // Without Redis the server is a cluster of one: one server, no other node to answer.
  server.server_count();
  auto count = servers.get_future();
  if (count.wait_for(std::chrono::seconds(5)) != std::future_status::ready || count.get() != 1) return 1;
  server.server_side_emit_with_ack("ping", "[]", 1000);
  auto pinged = server_side_error.get_future();
  if (pinged.wait_for(std::chrono::seconds(5)) != std::future_status::ready || pinged.get() != "/0") return 1;
  // A request from the host's own HTTP server: the answer comes as an HTTP_RESPONSE event.
  rtio_http_request req{};
  req.method = "GET";
  req.url = "/socket.io/?EIO=4&transport=polling";
  req.remote_addr = "127.0.0.1:1";
  server.handle_request(req);
  auto answered = http_answer.get_future();
  if (answered.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return 1;
  const std::string got = answered.get();
  if (got.rfind("200 0{\"sid\": text/plain", 0) != 0) {
    std::cerr << "handle_request answered " << got << std::endl;
    return 1;
  }
  try {
    req.url = nullptr;
    server.handle_request(req);
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_NULL_POINTER) return 1;
  }
  try {
    server.adopt_websocket(-1, req);
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_NULL_POINTER && e.status() != RTIO_STATUS_INVALID_ARGUMENT) return 1;
  }
  try {
    rtio::Config bad;
    bad.redis("not a url");
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_INVALID_ARGUMENT) return 1;
  }
  try {
    rtio::Emitter emitter("redis://127.0.0.1:1");
    emitter.emit("x");  // nothing listens on port 1
    return 1;
  } catch (const rtio::Error &e) {
    if (e.status() != RTIO_STATUS_IO) return 1;
  }
  if (self_test) {
    server.stop();
    try {
      server.stats();
      return 1;
    } catch (const rtio::Error &e) {
      if (e.status() != RTIO_STATUS_STOPPED) return 1;
    }
    std::cout << "cpp_example: self-test passed" << std::endl;
    return 0;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  return 0;
}
