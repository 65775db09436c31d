// The HTTP front of `rcache serve`: the listener and the shared state of
// its sessions, and the two-step shutdown over them; see http_server.hpp.
//
// Shutdown: drain() stops the listener, marks the state draining and, on
// each I/O thread, closes the connections waiting for a request; busy
// sessions see the mark after their response (sent with
// "Connection: close") and end.
#include "server/http_server.hpp"

#include "server/listener.hpp"
#include "server/shared_state.hpp"

namespace rcache::server {

http_server::http_server(std::vector<boost::asio::io_context*> contexts, gateway& gw,
                         const gateway_config& cfg)
    : state_(std::make_shared<shared_state>(std::move(contexts), gw, cfg)),
      listener_(std::make_shared<listener>(state_)) {}

http_server::~http_server() = default;

std::uint16_t http_server::start() {
  const auto port = listener_->start();
  state_->start_sweeps();
  return port;
}

void http_server::drain() {
  state_->start_draining();
  listener_->close();
  state_->for_each_connection([](connection& c) {
    if (c.idle) c.close();
  });
}

std::size_t http_server::open_connections() const noexcept {
  return state_->open();
}

void http_server::close_all() {
  state_->for_each_connection([](connection& c) { c.close(); });
}

void http_server::stop() {
  state_->stop_sweeps();
  close_all();
}

}  // namespace rcache::server
