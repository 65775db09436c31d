// rcache::blocking_client: an io_context on its own thread running one
// rcache::client; calls wait on a promise fulfilled by the completion.
#include <rcache/blocking_client.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <thread>

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
  std::promise<result<response>> done;
  auto fut = done.get_future();
  impl_->cl->async_exec(std::move(req), [&done](boost::system::error_code ec, response r) {
    if (ec) {
      done.set_value(ec);
    } else {
      done.set_value(std::move(r));
    }
  });
  return fut.get();
}

result<value> blocking_client::eval(const script& s, std::vector<std::string> keys,
                                    std::vector<std::string> args) {
  std::promise<result<value>> done;
  auto fut = done.get_future();
  impl_->cl->async_eval(s, std::move(keys), std::move(args),
                        [&done](boost::system::error_code ec, value v) {
                          if (ec) {
                            done.set_value(ec);
                          } else {
                            done.set_value(std::move(v));
                          }
                        });
  return fut.get();
}

client& blocking_client::async() noexcept {
  return *impl_->cl;
}

}  // namespace rcache
