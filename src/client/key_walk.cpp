// Walking every key that matches a pattern, master by master (key_walk.hpp).
#include "client/key_walk.hpp"

#include "client/completion.hpp"

namespace rcache::detail {

using boost::system::error_code;

std::shared_ptr<key_walk> key_walk::start(client& redis, key_walk_options o) {
  return std::shared_ptr<key_walk>(new key_walk(redis, std::move(o)));
}

void key_walk::next_page(page_handler h) {
  auto hp = std::make_shared<page_handler>(std::move(h));
  if (walk_.without_masters()) {
    return complete_later(redis_.get_executor(), std::move(*hp),
                          make_error_code(error::not_connected), std::vector<std::string>());
  }
  if (walk_.finished()) {
    return complete_later(redis_.get_executor(), std::move(*hp), error_code{},
                          std::vector<std::string>());
  }
  scan(std::move(hp));
}

// One SCAN; pages without keys (SCAN may return them anywhere in a walk)
// are not a consumer's business: the next one is asked for at once.
void key_walk::scan(std::shared_ptr<page_handler> h) {
  redis_.async_exec(walk_.next_request(), [self = shared_from_this(), h = std::move(h)](
                                              error_code ec, response resp) mutable {
    auto keys = ec ? result<std::vector<std::string>>(ec) : self->walk_.on_reply(resp.at(0));
    if (keys && keys->empty() && !self->walk_.finished()) return self->scan(std::move(h));
    const auto ex = self->redis_.get_executor();
    if (!keys) return complete_now(ex, std::move(*h), keys.error(), std::vector<std::string>());
    complete_now(ex, std::move(*h), error_code{}, std::move(*keys));
  });
}

}  // namespace rcache::detail
