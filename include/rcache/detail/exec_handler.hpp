// The completion handler of client::async_exec, type-erased once (internal:
// used by rcache::client's templates, so it ships with the public headers;
// not part of the stable API).
//
// Unlike boost::asio::any_completion_handler it keeps a small handler in
// place (no allocation), and it completes without converting executors:
// a handler with an executor of its own is dispatched there (inline when
// that executor runs the current thread); a handler without one — the
// cache's and the gateway's own continuations — runs inline, on the
// client's strand that completes it. Both are what Asio's rules give; the
// second skips the type-erased executor a generic wrapper would go through.
//
// Threading: like the handler it holds; completed once, by one thread.
#pragma once

#include <rcache/request.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace rcache::detail {

class exec_handler {
 public:
  exec_handler() noexcept = default;

  /// Holds `h`, a handler for void(error_code, response).
  template <class Handler,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<Handler>, exec_handler>>>
  exec_handler(Handler&& h) {  // NOLINT(google-explicit-constructor): a handler converts
    using H = std::decay_t<Handler>;
    if constexpr (fits_inline<H>) {
      ::new (static_cast<void*>(buf_)) H(std::forward<Handler>(h));
    } else {
      heap_ = new H(std::forward<Handler>(h));
    }
    ops_ = &ops_for<H>;
  }

  exec_handler(exec_handler&& o) noexcept { take(o); }
  exec_handler& operator=(exec_handler&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  exec_handler(const exec_handler&) = delete;
  exec_handler& operator=(const exec_handler&) = delete;
  ~exec_handler() { reset(); }

  void swap(exec_handler& o) noexcept {
    exec_handler t(std::move(o));
    o = std::move(*this);
    *this = std::move(t);
  }

  [[nodiscard]] explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Completes: the handler leaves this wrapper (which is empty after),
  /// then runs on its own executor, or inline when it has none.
  /// Precondition: not empty.
  void operator()(boost::system::error_code ec, response r) && {
    ops_->call(*this, ec, std::move(r));
  }

 private:
  static constexpr std::size_t inline_bytes = 128;
  template <class H>
  static constexpr bool fits_inline =
      sizeof(H) <= inline_bytes &&
      alignof(H) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<H>;

  struct ops {
    void (*call)(exec_handler& self, boost::system::error_code ec, response r);
    void (*move)(exec_handler& from, exec_handler& to) noexcept;
    void (*destroy)(exec_handler& self) noexcept;
  };

  template <class H>
  H& get() noexcept {
    if constexpr (fits_inline<H>) {
      return *std::launder(reinterpret_cast<H*>(buf_));
    } else {
      return *static_cast<H*>(heap_);
    }
  }

  template <class H>
  static void call(exec_handler& self, boost::system::error_code ec, response r) {
    H h(std::move(self.get<H>()));
    self.reset();
    using marker = boost::asio::system_executor;
    if constexpr (std::is_same_v<boost::asio::associated_executor_t<H, marker>, marker>) {
      std::move(h)(ec, std::move(r));
    } else {
      const auto ex = boost::asio::get_associated_executor(h);
      boost::asio::dispatch(ex, [h = std::move(h), ec, r = std::move(r)]() mutable {
        std::move(h)(ec, std::move(r));
      });
    }
  }

  template <class H>
  static void move_to(exec_handler& from, exec_handler& to) noexcept {
    if constexpr (fits_inline<H>) {
      ::new (static_cast<void*>(to.buf_)) H(std::move(from.get<H>()));
      from.get<H>().~H();
    } else {
      to.heap_ = from.heap_;
    }
    to.ops_ = from.ops_;
    from.ops_ = nullptr;
  }

  template <class H>
  static void destroy(exec_handler& self) noexcept {
    if constexpr (fits_inline<H>) {
      self.get<H>().~H();
    } else {
      delete static_cast<H*>(self.heap_);
    }
    self.ops_ = nullptr;
  }

  template <class H>
  static constexpr ops ops_for{&call<H>, &move_to<H>, &destroy<H>};

  void take(exec_handler& o) noexcept {
    if (o.ops_) o.ops_->move(o, *this);
  }
  void reset() noexcept {
    if (ops_) ops_->destroy(*this);
  }

  union {
    alignas(std::max_align_t) unsigned char buf_[inline_bytes];
    void* heap_;
  };
  const ops* ops_ = nullptr;
};

}  // namespace rcache::detail
