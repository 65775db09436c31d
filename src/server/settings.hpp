// The settings table of `rcache serve`: one row per setting, as Redis's
// config.c keeps one row per directive. A row names the setting (its TOML
// key and environment variable), its type and range, its default, what it
// means and where its value goes in gateway_config. Everything else reads
// this table: load_config() parses and checks by it, `rcache config check`
// prints it, and a unit test holds docs/configuration.md and
// config/rcache.example.toml to it.
//
// Threading: constant data and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rcache::server {

struct gateway_config;

enum class setting_type : std::uint8_t {
  integer,      // decimal, in [min, max]
  duration_ms,  // an integer number of milliseconds, in [min, max]
  number,       // a decimal number, in [min, max]
  boolean,      // true/false, 1/0, yes/no, on/off, any case
  choice,       // one of `values` ("a|b|c")
  address,      // host:port or [v6]:port, the host an IP address or localhost
  text,         // anything; `values` says what, for the docs
};

/// A setting's value once parsed; which field holds it depends on the type.
struct setting_value {
  std::string_view text;  // as given (every type)
  long long integer = 0;  // integer, duration_ms
  double number = 0;      // number
  bool boolean = false;   // boolean
  bool set = false;       // a value was given or defaulted (not unset)
};

/// Stores a parsed value in the configuration.
using setting_apply = void (*)(gateway_config&, const setting_value&);

struct setting {
  std::string_view key{};  // "server.listen": TOML section and name
  std::string_view env{};  // empty: RCACHE_<SECTION>_<NAME>
  setting_type type = setting_type::text;
  std::string_view default_value{};  // empty: unset
  long long min = 0;                 // integer, duration_ms, number
  long long max = 0;
  std::string_view values{};     // choice: "a|b"; text: what it takes
  std::string_view help{};       // one line, for `config check`
  bool secret = false;           // never printed or logged
  std::string_view not_built{};  // the feature, while it is not built
  /// Null when a combined step reads it (the Redis target) or the feature
  /// is not built.
  setting_apply apply = nullptr;
};

/// Every setting, in the order of `rcache config check` and the example file.
[[nodiscard]] std::span<const setting> settings_table() noexcept;

/// The row of `key`, or null.
[[nodiscard]] const setting* find_setting(std::string_view key) noexcept;

/// The environment variable of a setting.
[[nodiscard]] std::string env_name(const setting& s);

/// Parses `text` (not empty) as `s` takes it. On failure: why, naming the
/// value ("'70000' is not an integer in 1..65535").
[[nodiscard]] std::optional<std::string> parse_setting(const setting& s, std::string_view text,
                                                       setting_value& out);

/// What the setting takes, as docs/configuration.md's Values column says it
/// ("1..65535", "boolean", "`shared`, `per_thread`").
[[nodiscard]] std::string describe_values(const setting& s);

/// host and port of an `address` value that parse_setting accepted.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};
[[nodiscard]] std::optional<listen_address> split_address(std::string_view text);

}  // namespace rcache::server
