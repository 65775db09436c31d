// temp_dir: mkdtemp() on the way in, remove_all() on the way out.
//
// Threading: no shared state.
#include "temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <stdlib.h>
#include <string>
#include <system_error>
#include <utility>

namespace rcache::test {

temp_dir::temp_dir(std::string_view tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = (base && *base ? std::string(base) : std::string("/tmp")) + "/rcache-";
  pattern.append(tag);
  pattern += "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = std::filesystem::absolute(pattern);
}

temp_dir::~temp_dir() {
  remove();
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void temp_dir::remove() noexcept {
  if (path_.empty()) return;
  if (std::getenv("RCACHE_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "rcache: keeping test directory " << path_.string() << '\n';
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  path_.clear();
}

}  // namespace rcache::test
