// async_read_value(): the read loop of reply_reader.hpp for one value, as a
// coroutine: the client's handshake and the Sentinel queries read their
// replies with it (the client's reader takes values as they come instead).
// Apart from reply_reader.hpp so that what needs the reader alone (the
// multiplexer's tests) does not compile coroutines.
//
// Threading: as the stream's.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "client/reply_reader.hpp"

namespace rcache::detail {

/// async_read_value's default: nothing to count.
struct ignore_bytes {
  void operator()(std::size_t) const noexcept {}
};

/// Reads from `stream` (any AsyncReadStream) until `reader` has one whole
/// value, calling `on_read(n)` for each read of n bytes, in a coroutine on
/// `Executor`. Errors: the read's, or the parser's.
template <class Executor = boost::asio::any_io_executor, class Stream, class OnRead = ignore_bytes>
boost::asio::awaitable<result<value>, Executor> async_read_value(Stream& stream,
                                                                 reply_reader& reader,
                                                                 OnRead on_read = {}) {
  for (;;) {
    boost::system::error_code ec;
    if (auto v = reader.next(ec)) co_return std::move(*v);
    if (ec) co_return ec;
    auto [rec, n] = co_await stream.async_read_some(
        reader.space(), boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>{}));
    if (rec) co_return rec;
    reader.commit(n);
    on_read(n);
  }
}

}  // namespace rcache::detail
