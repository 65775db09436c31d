// Compiles and links against the installed rcache: the public headers, the
// package config and the exported targets must be enough.
#include <rcache/blocking_client.hpp>
#include <rcache/version.hpp>

#include <iostream>

int main() {
  auto cfg = rcache::parse_url("redis://user:secret@127.0.0.1:6390/2");
  if (!cfg || cfg->db != 2) return 1;
  rcache::request req;
  req.push("PING");
  std::cout << "rcache " << rcache::version_string << " " << rcache::redacted_url(*cfg) << " "
            << req.payload().size() << "\n";
  return 0;
}
