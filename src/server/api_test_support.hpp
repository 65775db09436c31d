// For the HTTP API's unit tests: the call a request parsed into, or the
// error it was answered with, failing the test when it was the other.
#pragma once

#include <gtest/gtest.h>
#include <variant>

#include "server/http_api.hpp"

namespace rcache::server::test {

inline api_call ok(const std::variant<api_call, api_error>& r) {
  if (const auto* e = std::get_if<api_error>(&r)) {
    ADD_FAILURE() << "unexpected error " << e->status << " " << e->code << ": " << e->message;
    return {};
  }
  return std::get<api_call>(r);
}

inline api_error err(const std::variant<api_call, api_error>& r) {
  if (const auto* c = std::get_if<api_call>(&r)) {
    ADD_FAILURE() << "unexpected success on route " << c->route;
    return {};
  }
  return std::get<api_error>(r);
}

}  // namespace rcache::server::test
