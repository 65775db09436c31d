// rcache::blocking_session_store: each call starts the asynchronous
// operation and waits for it (client/blocking_wait.hpp).
#include <rcache/session.hpp>

#include "client/blocking_wait.hpp"

namespace rcache {

blocking_session_store::blocking_session_store(client& redis, session_options o)
    : store_(redis, std::move(o)) {}

result<session> blocking_session_store::create(std::string user, device_info device,
                                               std::map<std::string, std::string> data) {
  return detail::wait_for<session>([&](auto done) {
    store_.async_create(std::move(user), std::move(device), std::move(data), std::move(done));
  });
}

result<std::optional<session>> blocking_session_store::validate(std::string_view id) {
  return detail::wait_for<std::optional<session>>(
      [&](auto done) { store_.async_validate(id, std::move(done)); });
}

result<std::optional<session>> blocking_session_store::read(std::string_view id) {
  return detail::wait_for<std::optional<session>>(
      [&](auto done) { store_.async_read(id, std::move(done)); });
}

result<std::optional<std::uint64_t>> blocking_session_store::update(std::string_view id,
                                                                    session_update u) {
  return detail::wait_for<std::optional<std::uint64_t>>(
      [&](auto done) { store_.async_update(id, std::move(u), std::move(done)); });
}

result<std::optional<session>> blocking_session_store::rotate(std::string_view id) {
  return detail::wait_for<std::optional<session>>(
      [&](auto done) { store_.async_rotate(id, std::move(done)); });
}

result<bool> blocking_session_store::destroy(std::string_view id) {
  return detail::wait_for<bool>([&](auto done) { store_.async_destroy(id, std::move(done)); });
}

result<std::size_t> blocking_session_store::destroy_all(std::string_view user,
                                                        std::string_view keep) {
  return detail::wait_for<std::size_t>(
      [&](auto done) { store_.async_destroy_all(user, keep, std::move(done)); });
}

result<std::vector<session>> blocking_session_store::list(std::string_view user) {
  return detail::wait_for<std::vector<session>>(
      [&](auto done) { store_.async_list(user, std::move(done)); });
}

result<sweep_result> blocking_session_store::sweep() {
  return detail::wait_for<sweep_result>([&](auto done) { store_.async_sweep(std::move(done)); });
}

result<session_events> blocking_session_store::read_events(session_event_cursor from,
                                                           std::size_t max_per_stream) {
  return detail::wait_for<session_events>([&](auto done) {
    store_.async_read_events(std::move(from), max_per_stream, std::move(done));
  });
}

}  // namespace rcache
