// rcache::blocking_client: an io_context on its own thread running one
// rcache::client; calls wait on a promise fulfilled by the completion.
#include <rcache/blocking_client.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "client/blocking_wait.hpp"

namespace rcache {

struct blocking_client::impl {
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::optional<client> cl;
  std::thread thread;
};

blocking_client::blocking_client(client_config cfg, std::shared_ptr<topology> topo)
    : impl_(std::make_unique<impl>()) {
  impl_->cl.emplace(impl_->ioc.get_executor(), std::move(cfg), std::move(topo));
  impl_->cl->start();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

blocking_client::~blocking_client() {
  impl_->cl->stop();
  impl_->work.reset();
  impl_->thread.join();
  impl_->cl.reset();
}

result<response> blocking_client::exec(request req) {
  return detail::wait_for<response>(
      [&](auto done) { impl_->cl->async_exec(std::move(req), std::move(done)); });
}

result<value> blocking_client::eval(const script& s, std::vector<std::string> keys,
                                    std::vector<std::string> args) {
  return detail::wait_for<value>([&](auto done) {
    impl_->cl->async_eval(s, std::move(keys), std::move(args), std::move(done));
  });
}

client& blocking_client::async() noexcept {
  return *impl_->cl;
}

}  // namespace rcache
