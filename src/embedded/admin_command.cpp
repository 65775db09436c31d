// Blocking one-shot admin commands: the reply parser, then the socket side.
//
// The parser renders a reply straight to text while it walks the bytes; it
// never touches a socket. The socket side connects, sends, and feeds the
// parser with whatever recv() returns until one reply is complete, with the
// time left until one deadline applied to every call.
//
// Threading: no shared state; every call owns its socket and buffer.
#include "embedded/admin_command.hpp"

#include <rcache/detail/resp_command.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace rcache::embedded {

// ---------------------------------------------------------------------------
// Reply parser (sans I/O)
// ---------------------------------------------------------------------------
namespace {

// A line longer than this without CRLF is garbage, not a slow server.
constexpr std::size_t max_line_length = 64u * 1024;

// Walks one reply from the start of `in`. parse() returns false either when
// the input ends early (ec_ clear) or when the bytes are invalid (ec_ set).
class reply_walker {
 public:
  explicit reply_walker(std::string_view in) noexcept : in_(in) {}

  bool parse(admin_reply& out, std::size_t depth) {
    if (depth > max_admin_reply_depth) return fail(rcache::error::resp_depth_exceeded);
    if (pos_ >= in_.size()) return false;
    const char type = in_[pos_++];
    std::string_view line;
    if (!read_line(line)) return false;
    switch (type) {
      case '+':
      case ':':
      case ',':  // RESP3 double
      case '(':  // RESP3 big number
        out.text.assign(line);
        return true;
      case '-':
        out.text.assign(line);
        out.is_error = true;
        return true;
      case '_':
        return nil(out);
      case '#':
        if (line == "t" || line == "f") {
          out.text = line == "t" ? "true" : "false";
          return true;
        }
        return fail(rcache::error::resp_invalid_boolean);
      case '$':
      case '!':  // RESP3 bulk error
      case '=':  // RESP3 verbatim string: "txt:" + payload
        return parse_bulk(type, line, out);
      case '*':
      case '~':  // RESP3 set
      case '>':  // RESP3 push
      case '%':  // RESP3 map: key, value, key, value, ...
      case '|':  // RESP3 attribute: metadata followed by the real reply
        return parse_aggregate(type, line, out, depth);
      default:
        return fail(rcache::error::resp_invalid_type);
    }
  }

  std::size_t consumed() const noexcept { return pos_; }
  const boost::system::error_code& error() const noexcept { return ec_; }

 private:
  bool fail(rcache::error e) {
    ec_ = make_error_code(e);
    return false;
  }

  static bool nil(admin_reply& out) {
    out.text = "(nil)";
    out.is_nil = true;
    return true;
  }

  bool read_line(std::string_view& line) {
    const auto end = in_.find("\r\n", pos_);
    if (end == std::string_view::npos) {
      if (in_.size() - pos_ > max_line_length) return fail(rcache::error::resp_line_too_long);
      return false;
    }
    line = in_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
  }

  bool parse_length(std::string_view line, std::int64_t& n) {
    const auto* first = line.data();
    const auto* last = line.data() + line.size();
    const auto [p, ec] = std::from_chars(first, last, n);
    if (ec != std::errc{} || p != last || line.empty() || n < -1) {
      return fail(rcache::error::resp_invalid_integer);
    }
    return true;
  }

  bool parse_bulk(char type, std::string_view line, admin_reply& out) {
    std::int64_t n = 0;
    if (!parse_length(line, n)) return false;
    if (n == -1) return type == '$' ? nil(out) : fail(rcache::error::resp_invalid_integer);
    const auto len = static_cast<std::size_t>(n);
    if (len > max_admin_reply_bytes) return fail(rcache::error::resp_bulk_too_long);
    if (in_.size() - pos_ < len + 2) return false;
    if (in_[pos_ + len] != '\r' || in_[pos_ + len + 1] != '\n') {
      return fail(rcache::error::resp_invalid_framing);
    }
    std::string_view payload = in_.substr(pos_, len);
    pos_ += len + 2;
    if (type == '=') {
      if (payload.size() < 4 || payload[3] != ':') return fail(rcache::error::resp_invalid_framing);
      payload.remove_prefix(4);
    }
    out.text.assign(payload);
    out.is_error = type == '!';
    return true;
  }

  bool parse_aggregate(char type, std::string_view line, admin_reply& out, std::size_t depth) {
    std::int64_t n = 0;
    if (!parse_length(line, n)) return false;
    if (n == -1) return type == '*' ? nil(out) : fail(rcache::error::resp_invalid_integer);
    auto count = static_cast<std::size_t>(n);
    if (type == '%' || type == '|') count *= 2;
    // Every element takes at least 3 bytes ("_\r\n"); a larger count is a lie.
    if (count > max_admin_reply_bytes / 3) return fail(rcache::error::resp_aggregate_too_large);
    std::vector<std::string> elements;
    for (std::size_t i = 0; i < count; ++i) {
      admin_reply element;
      if (!parse(element, depth + 1)) return false;
      elements.push_back(std::move(element.text));
    }
    if (type == '|') return parse(out, depth);  // attributes are metadata: drop them
    out.text.clear();
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (i != 0) out.text += '\n';
      out.text += elements[i];
    }
    out.elements = std::move(elements);
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  boost::system::error_code ec_;
};

}  // namespace

std::optional<admin_reply> parse_admin_reply(std::string_view in, std::size_t& consumed,
                                             boost::system::error_code& ec) {
  ec.clear();
  consumed = 0;
  reply_walker walker(in);
  admin_reply reply;
  if (!walker.parse(reply, 0)) {
    ec = walker.error();
    return std::nullopt;
  }
  consumed = walker.consumed();
  return reply;
}

// ---------------------------------------------------------------------------
// Socket side
// ---------------------------------------------------------------------------
namespace {

using clock = std::chrono::steady_clock;

class socket_fd {
 public:
  explicit socket_fd(int fd) noexcept : fd_(fd) {}
  socket_fd(socket_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  socket_fd& operator=(socket_fd&&) = delete;
  ~socket_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

boost::system::error_code errno_code() noexcept {
  return {errno, boost::system::system_category()};
}

// Applies the time left until `deadline` as the socket's timeout `option`
// (SO_SNDTIMEO or SO_RCVTIMEO). A zero timeval would mean "wait forever", so
// the minimum is one millisecond; a deadline already passed is a timeout.
boost::system::error_code arm_timeout(int fd, int option, clock::time_point deadline) noexcept {
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - clock::now());
  if (left.count() <= 0) return make_error_code(rcache::error::timeout);
  const auto usec = std::max<std::int64_t>(left.count(), 1000);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(usec / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(usec % 1'000'000);
  if (::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv) != 0) return errno_code();
  return {};
}

rcache::result<socket_fd> connect_to(const admin_target& target, clock::time_point deadline) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (!target.unix_socket.empty()) {
    family = AF_UNIX;
    auto* sun = reinterpret_cast<sockaddr_un*>(&storage);
    const std::string& path = target.unix_socket.native();
    if (path.size() >= sizeof sun->sun_path)
      return make_error_code(rcache::error::invalid_argument);
    sun->sun_family = AF_UNIX;
    std::memcpy(sun->sun_path, path.c_str(), path.size() + 1);
    length = static_cast<socklen_t>(sizeof(sockaddr_un));
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(target.port);
    if (::inet_pton(AF_INET, target.host.c_str(), &sin->sin_addr) != 1 || target.port == 0) {
      return make_error_code(rcache::error::invalid_argument);
    }
    length = static_cast<socklen_t>(sizeof(sockaddr_in));
  }
  socket_fd sock(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno_code();
  // Linux bounds a blocking connect() by SO_SNDTIMEO (EINPROGRESS / EAGAIN).
  if (auto ec = arm_timeout(sock.get(), SO_SNDTIMEO, deadline)) return ec;
  while (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    if (errno == EINTR) continue;
    if (errno == EINPROGRESS || errno == EAGAIN) {
      return make_error_code(rcache::error::timeout);
    }
    return errno_code();
  }
  return sock;
}

boost::system::error_code send_all(int fd, std::string_view data, clock::time_point deadline) {
  while (!data.empty()) {
    if (auto ec = arm_timeout(fd, SO_SNDTIMEO, deadline)) return ec;
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return make_error_code(rcache::error::timeout);
      if (errno == EPIPE || errno == ECONNRESET) {
        return make_error_code(rcache::error::connection_lost);
      }
      return errno_code();
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Reads until one complete reply is in `buffer`; leaves any bytes after it.
// The buffer is re-parsed from the start after every read: admin replies
// are small, and this keeps the parser free of resumable state.
rcache::result<admin_reply> read_reply(int fd, std::string& buffer, clock::time_point deadline) {
  char chunk[16 * 1024];
  for (;;) {
    std::size_t consumed = 0;
    boost::system::error_code ec;
    if (!buffer.empty()) {
      auto reply = parse_admin_reply(buffer, consumed, ec);
      if (reply) {
        buffer.erase(0, consumed);
        return std::move(*reply);
      }
      if (ec) return ec;
      if (buffer.size() > max_admin_reply_bytes) {
        return make_error_code(rcache::error::resp_aggregate_too_large);
      }
    }
    if (auto armed = arm_timeout(fd, SO_RCVTIMEO, deadline)) return armed;
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n == 0) return make_error_code(rcache::error::connection_lost);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return make_error_code(rcache::error::timeout);
      if (errno == ECONNRESET) return make_error_code(rcache::error::connection_lost);
      return errno_code();
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string encode(std::span<const std::string_view> args) {
  std::string out;
  resp::append_array_header(out, args.size());
  for (auto arg : args) resp::append_bulk(out, arg);
  return out;
}

rcache::result<admin_reply> round_trip(int fd, std::span<const std::string_view> args,
                                       std::string& buffer, clock::time_point deadline) {
  if (auto ec = send_all(fd, encode(args), deadline)) return ec;
  return read_reply(fd, buffer, deadline);
}

}  // namespace

rcache::result<admin_reply> admin_command(const admin_target& target,
                                          std::span<const std::string_view> args) {
  if (args.empty()) return make_error_code(rcache::error::empty_request);
  const auto deadline = clock::now() + target.timeout;
  auto sock = connect_to(target, deadline);
  if (!sock) return sock.error();
  std::string buffer;
  if (target.password) {
    std::vector<std::string_view> auth{"AUTH"};
    if (target.username) auth.emplace_back(*target.username);
    auth.emplace_back(*target.password);
    auto reply = round_trip(sock->get(), auth, buffer, deadline);
    if (!reply) return reply.error();
    if (reply->is_error) return make_error_code(rcache::error::auth_failed);
  }
  return round_trip(sock->get(), args, buffer, deadline);
}

rcache::result<admin_reply> admin_command(const admin_target& target,
                                          std::initializer_list<std::string_view> args) {
  return admin_command(target, std::span<const std::string_view>(args.begin(), args.size()));
}

rcache::result<admin_reply> admin_command(const admin_target& target,
                                          std::span<const std::string> args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  return admin_command(target, std::span<const std::string_view>(views));
}

}  // namespace rcache::embedded
