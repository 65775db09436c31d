// doc-test context: a fragment that runs in an ordinary function, without
// an event loop (tests/docs/doc_examples.py).
#include <chrono>
#include <optional>
#include <string>
#include <rcache/error.hpp>
// ---- block ----
[[maybe_unused]] rcache::result<std::optional<std::string>> load_user_from_db(int) {
  return std::optional<std::string>("ada");
}
[[maybe_unused]] void example() {
@BLOCK@
}
