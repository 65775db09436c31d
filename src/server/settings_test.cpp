// Unit tests of the settings table: each row is well formed, its default
// parses by its own rules, and the two documents written from it —
// docs/configuration.md and config/rcache.example.toml — say what it says.
// When a row changes, these tests print the line the document should have.
#include "server/settings.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>

#include "server/config.hpp"

namespace rcache::server {
namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(RCACHE_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cells of a Markdown table row, trimmed; empty for other lines.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  if (!line.starts_with("|")) return out;
  std::size_t start = 1;
  for (;;) {
    const auto bar = line.find(" |", start);
    if (bar == std::string::npos) break;
    auto cell = line.substr(start, bar - start);
    while (!cell.empty() && cell.front() == ' ') cell.erase(0, 1);
    out.push_back(cell);
    start = bar + 2;
  }
  return out;
}

std::string code(std::string_view text) {
  return "`" + std::string(text) + "`";
}

TEST(Settings, EveryRowIsWellFormedAndItsDefaultParses) {
  std::set<std::string_view> keys;
  std::set<std::string> envs;
  for (const auto& s : settings_table()) {
    SCOPED_TRACE(std::string(s.key));
    EXPECT_TRUE(keys.insert(s.key).second) << "one row per key";
    EXPECT_TRUE(envs.insert(env_name(s)).second) << "one setting per environment variable";
    EXPECT_NE(s.key.find('.'), std::string_view::npos) << "section.name";
    EXPECT_FALSE(s.help.empty());
    if (!s.default_value.empty()) {
      setting_value v;
      EXPECT_EQ(parse_setting(s, s.default_value, v), std::nullopt);
    }
    // Read by the Redis step, or parsed past its type by load_config.
    const bool combined =
        (s.key.starts_with("redis.") || s.key == "server.trusted_proxies") && !s.apply;
    EXPECT_TRUE(s.apply || combined || !s.not_built.empty())
        << "a setting is applied, read by a combined step or marked not built";
    EXPECT_FALSE(s.apply && !s.not_built.empty()) << "not built, yet applied";
  }
}

TEST(Settings, TypedParsingNamesTheValueAndTheRule) {
  const auto* port = find_setting("redis.port");
  ASSERT_NE(port, nullptr);
  setting_value v;
  EXPECT_EQ(parse_setting(*port, "70000", v), "'70000' is not an integer in 1..65535");
  EXPECT_EQ(parse_setting(*port, "6380", v), std::nullopt);
  EXPECT_EQ(v.integer, 6380);
  const auto* level = find_setting("log.level");
  EXPECT_EQ(parse_setting(*level, "loud", v),
            "'loud' is not one of trace, debug, info, warn, error, off");
  const auto* listen = find_setting("server.listen");
  EXPECT_EQ(parse_setting(*listen, "[::1]:99999", v), "'99999' is not a port (0..65535)");
  EXPECT_EQ(parse_setting(*listen, "example.com:80", v),
            "'example.com' is not an IP address (or localhost)");
  EXPECT_EQ(parse_setting(*listen, "nowhere", v),
            "'nowhere' is not address:port (e.g. 127.0.0.1:8080)");
  const auto* flag = find_setting("cache.compression");
  EXPECT_EQ(parse_setting(*flag, "ON", v), std::nullopt);
  EXPECT_TRUE(v.boolean);
  EXPECT_NE(parse_setting(*flag, "maybe", v), std::nullopt);
  const auto* cpu = find_setting("alerts.cpu_percent");
  EXPECT_EQ(parse_setting(*cpu, "12.5", v), std::nullopt);
  EXPECT_EQ(v.number, 12.5);
  EXPECT_EQ(parse_setting(*cpu, "nan", v), "'nan' is not a number in 0..100");
}

// docs/configuration.md lists every setting in tables whose header is
// "| TOML key | Environment | Default | Values | Meaning |"; the first four
// cells of each row come from the table, the fifth is prose.
TEST(Settings, TheConfigurationPageListsEverySettingAsTheTableSaysIt) {
  const auto doc = read_source("docs/configuration.md");
  ASSERT_FALSE(doc.empty()) << "docs/configuration.md not found";
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream lines(doc);
  bool in_table = false;
  for (std::string line; std::getline(lines, line);) {
    const auto c = cells(line);
    if (c.empty()) {
      in_table = false;
    } else if (c.size() == 5 && c[0] == "TOML key" && c[1] == "Environment") {
      in_table = true;
    } else if (in_table && c[0] != "---") {
      EXPECT_TRUE(rows.emplace(c[0], c).second) << c[0] << " is listed twice";
    }
  }
  for (const auto& s : settings_table()) {
    const std::vector<std::string> want = {
        code(s.key), code(env_name(s)), s.default_value.empty() ? "unset" : code(s.default_value),
        describe_values(s)};
    const auto it = rows.find(code(s.key));
    if (it == rows.end()) {
      ADD_FAILURE() << "docs/configuration.md has no row for " << s.key << "; it starts:\n| "
                    << want[0] << " | " << want[1] << " | " << want[2] << " | " << want[3] << " |";
      continue;
    }
    const auto& got = it->second;
    for (std::size_t i = 1; i < want.size(); ++i) {
      EXPECT_EQ(got[i], want[i]) << s.key << ", column " << i + 1;
    }
    EXPECT_GE(got.size(), 5u);
    if (got.size() >= 5) {
      EXPECT_FALSE(got[4].empty()) << s.key << " has no meaning written";
    }
    if (!s.not_built.empty() && got.size() >= 5) {
      EXPECT_NE(got[4].find("**Not built yet** (" + std::string(s.not_built) + ")"),
                std::string::npos)
          << s.key;
    }
    rows.erase(it);
  }
  for (const auto& [key, row] : rows) ADD_FAILURE() << key << " is documented but not a setting";
}

// The example file shows every setting in table order: those with a
// default set to it, the others (and settings not built yet) commented out.
TEST(Settings, TheExampleFileShowsEverySettingWithItsDefault) {
  const std::string path = std::string(RCACHE_SOURCE_DIR) + "/config/rcache.example.toml";
  const auto loaded = load_config({.file = path});
  const auto text = read_source("config/rcache.example.toml");
  std::size_t at = 0;
  for (const auto& rep : loaded.settings) {
    const auto* s = find_setting(rep.key);
    ASSERT_NE(s, nullptr);
    const auto name = rep.key.substr(rep.key.find('.') + 1);
    const bool shown = !s->default_value.empty() && s->not_built.empty();
    if (shown) {
      EXPECT_EQ(rep.from, source::file) << rep.key << " is missing from the example";
      EXPECT_EQ(rep.value, s->default_value) << rep.key << ": the example shows the default";
    } else {
      EXPECT_EQ(rep.from, source::default_value) << rep.key << " should be commented out";
    }
    const auto line = (shown ? "\n" : "\n# ") + name + " = ";
    const auto pos = text.find(line, at);
    EXPECT_NE(pos, std::string::npos)
        << rep.key << " (in table order) not found as '" << line << "'";
    if (pos != std::string::npos) at = pos;
  }
}

}  // namespace
}  // namespace rcache::server
