// The SCAN walk's position without I/O (scan_walk.hpp).
#include "client/scan_walk.hpp"

namespace rcache::detail {

request scan_walk::next_request() const {
  request r(request::options{.wait_for_connection = false, .node = nodes_[node_]});
  if (opts_.type.empty()) {
    r.push("SCAN", cursor_, "MATCH", opts_.match, "COUNT", opts_.count);
  } else {
    r.push("SCAN", cursor_, "MATCH", opts_.match, "COUNT", opts_.count, "TYPE", opts_.type);
  }
  return r;
}

result<std::vector<std::string>> scan_walk::on_reply(const value& reply) {
  if (reply.is_error() || reply.elements.size() != 2 || !reply.elements[0].is_string()) {
    return make_error_code(error::redis_error);
  }
  std::vector<std::string> keys;
  keys.reserve(reply.elements[1].elements.size());
  for (const auto& k : reply.elements[1].elements) keys.push_back(k.str);
  ++pages_;
  cursor_ = reply.elements[0].str;
  if (cursor_ == "0") ++node_;
  return keys;
}

}  // namespace rcache::detail
