// A fresh directory for one test fixture, removed when the fixture ends.
//
// Created with mkdtemp() under $TMPDIR (or /tmp) as rcache-<tag>-XXXXXX.
// Kept, and its path printed to stderr, when the environment variable
// RCACHE_KEEP_TEST_DIRS is set, so the server logs and data files of a
// failed run can be read afterwards.
//
// Threading: a temp_dir is a plain owning object; one owner.
#pragma once

#include <filesystem>
#include <string_view>

namespace rcache::test {

class temp_dir {
 public:
  /// Creates the directory; throws std::system_error if mkdtemp fails.
  explicit temp_dir(std::string_view tag = "test");
  /// Removes the directory tree (errors ignored) unless RCACHE_KEEP_TEST_DIRS is set.
  ~temp_dir();

  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&& other) noexcept;
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The absolute path; empty after a move.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void remove() noexcept;

  std::filesystem::path path_;
};

}  // namespace rcache::test
