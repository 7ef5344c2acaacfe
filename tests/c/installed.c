/* Built with nothing but `pkg-config --cflags --libs rtio` against an installed copy. */
#include <rtio.h>
#include <stdio.h>

int main(void) {
  rtio_config *config = rtio_config_new();
  rtio_config_set_host(config, "127.0.0.1");
  rtio_server *server = NULL;
  if (rtio_server_start(config, &server) != RTIO_STATUS_OK) {
    fprintf(stderr, "start failed: %s\n", rtio_last_error());
    return 1;
  }
  rtio_config_free(config);
  uint16_t port = 0;
  rtio_server_port(server, &port);
  rtio_server_free(server);
  printf("installed rtio %s served on port %u\n", rtio_version(), port);
  return port == 0;
}
