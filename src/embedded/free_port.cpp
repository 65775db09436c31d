// Free loopback ports: bind 127.0.0.1:0, read the port back, close.
//
// Threading: no shared state.
#include "embedded/free_port.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rcache::embedded {
namespace {

// Closes every socket it holds when it goes out of scope.
class bound_sockets {
 public:
  bound_sockets() = default;
  bound_sockets(const bound_sockets&) = delete;
  bound_sockets& operator=(const bound_sockets&) = delete;
  ~bound_sockets() {
    for (int fd : fds_) ::close(fd);
  }

  // Binds one more socket to 127.0.0.1:0 and returns the port it got.
  rcache::result<std::uint16_t> bind_one() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_code();
    fds_.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return errno_code();
    }
    socklen_t length = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return errno_code();
    return ntohs(addr.sin_port);
  }

 private:
  static boost::system::error_code errno_code() noexcept {
    return {errno, boost::system::system_category()};
  }

  std::vector<int> fds_;
};

}  // namespace

rcache::result<std::uint16_t> free_port() {
  bound_sockets sockets;
  return sockets.bind_one();
}

rcache::result<std::vector<std::uint16_t>> free_ports(std::size_t n) {
  bound_sockets sockets;
  std::vector<std::uint16_t> ports;
  ports.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto port = sockets.bind_one();
    if (!port) return port.error();
    ports.push_back(*port);
  }
  return ports;
}

}  // namespace rcache::embedded
